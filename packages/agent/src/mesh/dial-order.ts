import { BlockList, isIPv4 } from 'node:net'
import { networkInterfaces } from 'node:os'
import type { Address } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ipOf, isPublicAddr, isRelayed } from './reachability.ts'

/**
 * The order in which a peer's addresses are tried. libp2p dials them one at a time, each with
 * its own timeout, so an address that silently drops packets costs the whole timeout before the
 * next is tried. Private addresses of another network (a peer behind its home router) are the
 * usual culprits: they go after the relayed addresses, which are then the way in.
 *
 *   0  public direct addresses
 *   1  direct addresses inside one of this machine's own subnets (LAN, loopback)
 *   2  relayed addresses
 *   3  other private direct addresses
 */
export function dialRank(ma: Multiaddr, ownSubnets: BlockList): number {
  if (isRelayed(ma)) return 2
  if (isPublicAddr(ma)) return 0
  const ip = ipOf(ma)
  if (ip === undefined) return 1 // a DNS name: leave it to the resolver, before relays
  return ownSubnets.check(ip.ip, ip.family) ? 1 : 3
}

/** This machine's subnets, from its interfaces (loopback included). */
export function ownSubnets(): BlockList {
  const list = new BlockList()
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      const [net, bits] = (a.cidr ?? `${a.address}/${isIPv4(a.address) ? 32 : 128}`).split('/')
      list.addSubnet(net!, Number(bits), a.family === 'IPv4' ? 'ipv4' : 'ipv6')
    }
  }
  return list
}

/** TCP before WebSockets among addresses of the same rank: one fewer upgrade on the way. */
function transportRank(ma: Multiaddr): number {
  return ma.toString().includes('/ws') ? 1 : 0
}

/** libp2p's `addressSorter`: a comparator over a peer's addresses, by `dialRank`. */
export function dialOrder(subnets: () => BlockList): (a: Address, b: Address) => -1 | 0 | 1 {
  return (a, b) => {
    const s = subnets()
    return Math.sign(
      dialRank(a.multiaddr, s) - dialRank(b.multiaddr, s) ||
        transportRank(a.multiaddr) - transportRank(b.multiaddr) ||
        Number(b.isCertified) - Number(a.isCertified),
    ) as -1 | 0 | 1
  }
}

/** Interfaces change (a laptop moves networks): the subnets are read again at most this often. */
const SUBNETS_TTL_MS = 30_000

/** `ownSubnets()`, cached for a while. */
export function cachedSubnets(now: () => number = Date.now): () => BlockList {
  let at = -Infinity
  let list = new BlockList()
  return () => {
    if (now() - at > SUBNETS_TTL_MS) {
      list = ownSubnets()
      at = now()
    }
    return list
  }
}
