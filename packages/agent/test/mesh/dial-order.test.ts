import { BlockList } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { dialOrder, dialRank } from '../../src/mesh/dial-order.ts'
import { servesDht, servesRelay } from '../../src/mesh/relay-service.ts'

const PEER = '12D3KooWQ5sF3CyNSEzm5bdnZJC4XMHEmZxcVXEhnbBEZRz5YKLP'
const RELAY = '12D3KooWJ5oeqAYhKVUCZ1wG4rX9LxBc6jGkzQH8PSv8rNFAbpDR'

/** A machine on 192.168.1.0/24 with loopback. */
function lan(): BlockList {
  const b = new BlockList()
  b.addSubnet('127.0.0.0', 8, 'ipv4')
  b.addSubnet('192.168.1.0', 24, 'ipv4')
  return b
}

describe('dial order', () => {
  it('ranks public, own-subnet, relayed, then foreign private addresses', () => {
    const s = lan()
    expect(dialRank(multiaddr('/ip4/203.0.113.7/tcp/4001'), s)).toBe(0)
    expect(dialRank(multiaddr('/ip4/192.168.1.20/tcp/4001'), s)).toBe(1)
    expect(dialRank(multiaddr('/ip4/127.0.0.1/tcp/4001'), s)).toBe(1)
    expect(dialRank(multiaddr(`/ip4/203.0.113.7/tcp/4001/p2p/${RELAY}/p2p-circuit`), s)).toBe(2)
    expect(dialRank(multiaddr('/ip4/10.77.0.2/tcp/4001'), s)).toBe(3)
  })

  it("puts a NAT'd peer's relayed address before its home-network addresses", () => {
    const addrs = [
      `/ip4/10.77.0.2/tcp/4001/p2p/${PEER}`,
      `/ip4/10.77.0.2/tcp/4002/ws/p2p/${PEER}`,
      `/ip4/198.51.100.2/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`,
    ].map((a) => ({ multiaddr: multiaddr(a), isCertified: false }))
    const sorted = [...addrs].sort(dialOrder(lan))
    expect(sorted[0]!.multiaddr.toString()).toContain('/p2p-circuit/')
    // TCP before WebSockets within a rank.
    expect(sorted[1]!.multiaddr.toString()).toContain('/tcp/4001/p2p/')
  })
})

describe('relay service', () => {
  const base = { announce: [] as string[], host: '0.0.0.0' }
  it('is off in auto mode when the machine has only private addresses', () => {
    expect(servesRelay({ ...base, relayService: 'auto' }, () => ['127.0.0.1', '10.77.0.2', 'fe80::1'])).toBe(
      false,
    )
  })
  it('is on in auto mode with a public interface address or a public announce address', () => {
    expect(servesRelay({ ...base, relayService: 'auto' }, () => ['127.0.0.1', '198.51.100.2'])).toBe(true)
    expect(
      servesRelay(
        { announce: ['/dns4/seed.example/tcp/4001'], host: '0.0.0.0', relayService: 'auto' },
        () => [],
      ),
    ).toBe(true)
    expect(
      servesRelay({ announce: [], host: '10.0.0.5', relayService: 'auto' }, () => ['198.51.100.2']),
    ).toBe(false)
  })
  it('follows an explicit on or off', () => {
    expect(servesRelay({ ...base, relayService: 'on' }, () => [])).toBe(true)
    expect(servesRelay({ ...base, relayService: 'off' }, () => ['198.51.100.2'])).toBe(false)
  })
})

describe('DHT mode', () => {
  const base = { announce: [] as string[], host: '0.0.0.0' }
  it('serves in a private mesh whatever the addresses', () => {
    expect(servesDht(base, true, () => ['127.0.0.1', '192.168.1.4'])).toBe(true)
  })
  it('serves in an open mesh only with a public address', () => {
    expect(servesDht(base, false, () => ['127.0.0.1', '192.168.1.4'])).toBe(false)
    expect(servesDht(base, false, () => ['203.0.113.9'])).toBe(true)
  })
})
