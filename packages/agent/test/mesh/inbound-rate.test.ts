import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { InboundRate } from '../../src/mesh/inbound-rate.ts'

describe('the inbound connection rate per host', () => {
  it('refuses a host past its limit within one second, and lets it in again the next second', () => {
    let now = 10_000
    const rate = new InboundRate(3, () => now)
    expect([1, 2, 3, 4].map(() => rate.admit('203.0.113.5'))).toEqual([true, true, true, false])
    expect(rate.admit('198.51.100.7')).toBe(true)
    now += 999
    expect(rate.admit('203.0.113.5')).toBe(false)
    now += 1
    expect(rate.admit('203.0.113.5')).toBe(true)
  })

  it('never limits this machine’s own loopback, where several nodes of one operator share an address', () => {
    const rate = new InboundRate(1, () => 0)
    for (let i = 0; i < 50; i++) {
      expect(rate.admit('127.0.0.1')).toBe(true)
      expect(rate.admit('::1')).toBe(true)
    }
  })

  it('reads the host from a connection’s remote address for the gater (true refuses)', () => {
    const rate = new InboundRate(1, () => 0)
    const conn = (addr: string) => ({ remoteAddr: multiaddr(addr) }) as never
    expect(rate.denyInbound(conn('/ip4/203.0.113.5/tcp/4001'))).toBe(false)
    expect(rate.denyInbound(conn('/ip4/203.0.113.5/tcp/4002'))).toBe(true)
    expect(rate.denyInbound(conn('/ip6/2001:db8::1/tcp/4001'))).toBe(false)
    expect(rate.denyInbound(conn('/ip4/127.0.0.1/tcp/4001'))).toBe(false)
    expect(rate.denyInbound(conn('/ip4/127.0.0.1/tcp/4001'))).toBe(false)
  })
})
