import { TaskSpec } from '@edgecoder/protocol'
import { describe, expect, it } from 'vitest'
import { type Candidate, chooseExecutor, needsOf } from '../../src/routing/index.ts'

const now = 1_000_000
const prefs = { now, region: 'eu-west', parkFactor: 2 }
const run = needsOf(TaskSpec.parse({ kind: 'run', language: 'python', code: 'x = 1' }))
const chat = (model?: string) =>
  needsOf(TaskSpec.parse({ kind: 'chat', messages: [{ role: 'user', content: 'hi' }], model }))

function peer(id: string, patch: Partial<Candidate> = {}): Candidate {
  return {
    peerId: id,
    local: false,
    state: 'online',
    roles: ['worker'],
    power: 'active',
    models: [],
    slots: { total: 2, free: 2 },
    queueDepth: 0,
    load: 0.1,
    rttMs: 1,
    region: null,
    inflight: 0,
    successRate: 1,
    backoffUntil: 0,
    ...patch,
  }
}

describe('chooseExecutor', () => {
  it('sends a task that needs a model to the only node that has it, even a busier one', () => {
    const c = chooseExecutor(
      chat('gemma'),
      [peer('a'), peer('b', { models: ['gemma'], slots: { total: 2, free: 0 }, rttMs: 40 }), peer('c')],
      prefs,
    )
    expect(c.best?.candidate.peerId).toBe('b')
    expect(c.best?.reasons).toContain('has gemma')
    expect(c.excluded).toEqual([
      { peerId: 'a', why: 'no model gemma' },
      { peerId: 'c', why: 'no model gemma' },
    ])
    expect(c.capable).toBe(1)
  })

  it('takes any model for a chat that names none, and none for a run task', () => {
    expect(
      chooseExecutor(chat(), [peer('a'), peer('b', { models: ['m'] })], prefs).best?.candidate.peerId,
    ).toBe('b')
    expect(chooseExecutor(run, [peer('a')], prefs).best?.candidate.peerId).toBe('a')
  })

  it('passes over a busy node for one with free slots', () => {
    const c = chooseExecutor(
      run,
      [peer('busy', { slots: { total: 2, free: 0 }, queueDepth: 3 }), peer('idle', { rttMs: 5 })],
      prefs,
    )
    expect(c.ranked.map((s) => s.candidate.peerId)).toEqual(['idle', 'busy'])
    expect(c.ranked[1]!.reasons).toContain('free 0/2')
  })

  it('counts its own tasks in flight before the advert does', () => {
    const c = chooseExecutor(run, [peer('a', { inflight: 2 }), peer('b', { rttMs: 10 })], prefs)
    expect(c.best?.candidate.peerId).toBe('b')
  })

  it('keeps at most parkFactor × slots of its tasks on one executor, and says so', () => {
    const c = chooseExecutor(run, [peer('a', { inflight: 4 })], prefs)
    expect(c.best).toBeNull()
    expect(c.capable).toBe(1)
    expect(c.excluded[0]!.why).toMatch(/^full: 4 of 4/)
    expect(
      chooseExecutor(run, [peer('a', { inflight: 4 })], { ...prefs, ignoreCapacity: true }).best,
    ).not.toBeNull()
  })

  it('leaves out nodes that are offline, paused, not workers or backing off, and tells why', () => {
    const c = chooseExecutor(
      run,
      [
        peer('off', { state: 'offline' }),
        peer('paused', { power: 'paused' }),
        peer('coord', { roles: ['coordinator'] }),
        peer('shy', { backoffUntil: now + 500 }),
      ],
      prefs,
    )
    expect(c.best).toBeNull()
    expect(Object.fromEntries(c.excluded.map((e) => [e.peerId, e.why]))).toEqual({
      off: 'offline',
      paused: 'power paused',
      coord: 'runs no tasks',
      shy: 'left alone for 500 ms',
    })
    // Backing off is a matter of time, not of ability.
    expect(c.capable).toBe(1)
  })

  it('lets the local node win a tie', () => {
    const local = peer('zz-self', { local: true, rttMs: 0 })
    const c = chooseExecutor(run, [peer('aa', { rttMs: 0 }), local], prefs)
    expect(c.best?.candidate.local).toBe(true)
    expect(c.best?.reasons).toContain('no network hop')
  })

  it('prefers the shorter round trip, the more reliable node and the same region when room is equal', () => {
    const near = chooseExecutor(run, [peer('far', { rttMs: 80 }), peer('near', { rttMs: 2 })], prefs)
    expect(near.best?.candidate.peerId).toBe('near')
    const reliable = chooseExecutor(run, [peer('flaky', { successRate: 0.3 }), peer('steady')], prefs)
    expect(reliable.best?.candidate.peerId).toBe('steady')
    const region = chooseExecutor(run, [peer('x'), peer('y', { region: 'eu-west' })], prefs)
    expect(region.best?.candidate.peerId).toBe('y')
    expect(region.best?.reasons).toContain('same region eu-west')
  })

  it('is deterministic: equal candidates are ordered by peer id', () => {
    const c = chooseExecutor(run, [peer('b'), peer('a'), peer('c')], prefs)
    expect(c.ranked.map((s) => s.candidate.peerId)).toEqual(['a', 'b', 'c'])
  })
})
