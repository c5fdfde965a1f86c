import { describe, expect, it } from 'vitest'
import {
  HEARTBEATS_PER_INTERVAL,
  heartbeatFor,
  meshOptions,
  swarmKeyFromToken,
} from '../../src/mesh/index.ts'

describe('heartbeatFor', () => {
  it('keeps the base heartbeat in a small mesh', () => {
    expect(heartbeatFor(10_000, 0)).toBe(10_000)
    expect(heartbeatFor(10_000, HEARTBEATS_PER_INTERVAL)).toBe(10_000)
  })

  it('stretches with the mesh so each node receives about the same number of heartbeats', () => {
    const perNode = (peers: number) => peers / heartbeatFor(10_000, peers)
    expect(perNode(19)).toBeCloseTo(perNode(4), 6)
    expect(perNode(50)).toBeCloseTo(perNode(4), 6)
  })

  it('stops stretching at 30 times the base', () => {
    expect(heartbeatFor(1000, 10_000)).toBe(30_000)
  })
})

describe('meshOptions', () => {
  it('fills in defaults and ignores undefined values', () => {
    const o = meshOptions({ port: 0, heartbeatMs: undefined })
    expect(o.port).toBe(0)
    expect(o.heartbeatMs).toBe(10_000)
    expect(o.evictAfterHeartbeats).toBe(3)
  })
})

describe('swarmKeyFromToken', () => {
  it('derives a pnet swarm key: the same for the same token, different for another', () => {
    const text = (t: string) => new TextDecoder().decode(swarmKeyFromToken(t))
    const k = text('correct-horse-battery-staple')
    expect(k).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
    expect(text('correct-horse-battery-staple')).toBe(k)
    expect(text('correct-horse-battery-stapler')).not.toBe(k)
  })
})
