import { networkInterfaces } from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'
import type { MeshOptions } from './options.ts'
import { isPublicAddr } from './reachability.ts'

/**
 * Whether this node offers itself as a circuit relay. A node that nothing can dial (behind NAT,
 * or on a private network only) would advertise a relay at addresses no one reaches, and peers
 * would waste reservations on it. `auto` serves when the node has a public address: one it
 * announces, the one it listens on, or, listening on all interfaces, one of the machine's own.
 */
export function servesRelay(
  opts: Pick<MeshOptions, 'relayService' | 'announce' | 'host'>,
  interfaceAddrs: () => string[] = machineAddresses,
): boolean {
  if (opts.relayService !== 'auto') return opts.relayService === 'on'
  const isPublic = (a: string) => {
    try {
      return isPublicAddr(multiaddr(a))
    } catch {
      return false
    }
  }
  if (opts.announce.length > 0) return opts.announce.some((a) => isPublic(a) || /^\/dns[46]?\//.test(a))
  const wildcard = opts.host === '0.0.0.0' || opts.host === '::'
  const candidates = wildcard ? interfaceAddrs() : [opts.host]
  return candidates.some((ip) => isPublic(`/${ip.includes(':') ? 'ip6' : 'ip4'}/${ip}`))
}

function machineAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((xs) => (xs ?? []).map((x) => x.address))
}
