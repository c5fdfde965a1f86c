import { networkInterfaces } from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'
import type { MeshOptions } from './options.ts'
import { isPublicAddr } from './reachability.ts'

/**
 * Whether this node serves the private DHT (`/edgecoder/kad/1.0.0`) to others. libp2p's own rule
 * (server only with a public address) leaves a mesh on private networks — a LAN, a VPN, a private
 * mesh of home machines — without a single DHT server. Members of a private mesh passed the mesh
 * token's handshake, so they serve whatever their addresses; in an open mesh a node serves when
 * it is publicly reachable, so no one puts unreachable nodes in their routing tables.
 */
export function servesDht(
  opts: Pick<MeshOptions, 'announce' | 'host'>,
  meshPrivate: boolean,
  interfaceAddrs: () => string[] = machineAddresses,
): boolean {
  return meshPrivate || hasPublicAddress(opts, interfaceAddrs)
}

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
  return hasPublicAddress(opts, interfaceAddrs)
}

/** A public address: one announced (or a DNS name), the one listened on, or one of the machine's. */
function hasPublicAddress(
  opts: Pick<MeshOptions, 'announce' | 'host'>,
  interfaceAddrs: () => string[],
): boolean {
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
