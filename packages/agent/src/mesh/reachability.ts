import { BlockList } from 'node:net'
import type { Connection } from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { SelfAddress } from './host.ts'

export type Reachability = 'public' | 'private' | 'unknown'

// Addresses no one outside the machine, the LAN or the carrier's NAT can dial.
const NON_PUBLIC = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv4')
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv6')
}

/** The IP address a multiaddr starts with, if any. */
export function ipOf(ma: Multiaddr): { ip: string; family: 'ipv4' | 'ipv6' } | undefined {
  const first = ma.getComponents()[0]
  if (first?.name === 'ip4' && first.value) return { ip: first.value, family: 'ipv4' }
  if (first?.name === 'ip6' && first.value) return { ip: first.value, family: 'ipv6' }
  return undefined
}

export function isPublicAddr(ma: Multiaddr): boolean {
  const ip = ipOf(ma)
  return ip !== undefined && !NON_PUBLIC.check(ip.ip, ip.family)
}

export function isRelayed(ma: Multiaddr | string): boolean {
  return ma.toString().includes('/p2p-circuit')
}

/**
 * What this node is to the internet: `public` once AutoNAT confirmed a public address, `private`
 * when it has no public address to offer at all or AutoNAT had its chance and confirmed none.
 */
export function reachabilityOf(addrs: SelfAddress[], autonatHadTime: boolean): Reachability {
  const direct = addrs.filter((a) => !isRelayed(a.multiaddr))
  if (direct.some((a) => a.verified && isPublicAddr(a.multiaddr))) return 'public'
  if (!direct.some((a) => isPublicAddr(a.multiaddr))) return 'private'
  return autonatHadTime ? 'private' : 'unknown'
}

/** Addresses as text, the most widely dialable first: public, private, loopback, relayed. */
export function rankAddresses(addrs: Multiaddr[]): string[] {
  const rank = (a: Multiaddr, s: string) =>
    isRelayed(s) ? 3 : isPublicAddr(a) ? 0 : s.startsWith('/ip4/127.') || s.startsWith('/ip6/::1/') ? 2 : 1
  const ranked = addrs.map((a) => ({ s: a.toString(), r: rank(a, a.toString()) })).sort((x, y) => x.r - y.r)
  return [...new Set(ranked.map((x) => x.s))]
}

/**
 * The addresses an advert carries (they must fit its 4 KB): a few direct ones, and relayed ones
 * only when no direct address is public, since then a relay may be the only way in.
 */
export function advertAddrs(ranked: string[]): string[] {
  const direct = ranked.filter((a) => !isRelayed(a)).slice(0, 4)
  const anyPublic = direct.some((a) => {
    try {
      return isPublicAddr(multiaddr(a))
    } catch {
      return false
    }
  })
  return anyPublic ? direct : [...direct, ...ranked.filter(isRelayed).slice(0, 2)]
}

/** The relays holding a reservation for this node, read from its relayed addresses. */
export function relaysOf(addrs: string[]): Set<string> {
  const relays = new Set<string>()
  for (const a of addrs) {
    const relay = /\/p2p\/([^/]+)\/p2p-circuit/.exec(a)?.[1]
    if (relay !== undefined) relays.add(relay)
  }
  return relays
}

/** How a peer is reached through its open connections: directly if any is, else through a relay. */
export function linkOf(conns: Connection[]): {
  connection: 'direct' | 'relayed' | null
  rttMs: number | null
} {
  const open = conns.filter((c) => c.status === 'open')
  const direct = open.find((c) => c.limits === undefined && !isRelayed(c.remoteAddr))
  const best = direct ?? open[0]
  if (best === undefined) return { connection: null, rttMs: null }
  return { connection: direct ? 'direct' : 'relayed', rttMs: best.rtt ?? null }
}
