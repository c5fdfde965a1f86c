import type { TaskPriority } from '@edgecoder/protocol'
import { describe, expect, it } from 'vitest'
import { FairShareQueue, type QueueEntry } from '../../src/tasks/index.ts'

const entry = (submitter: string, n: number, priority: TaskPriority = 'normal'): QueueEntry => ({
  id: `${submitter}-${n}`,
  submitter,
  priority,
})

const drain = (q: FairShareQueue<QueueEntry>): string[] => {
  const out: string[] = []
  for (let e = q.pop(); e; e = q.pop()) out.push(e.id)
  return out
}

describe('FairShareQueue', () => {
  it('serves a light submitter before a flooding one', () => {
    const q = new FairShareQueue<QueueEntry>()
    for (let i = 0; i < 100; i++) q.push(entry('flood', i))
    // A few of the flood are already served when the light submitter arrives.
    const served = [q.pop()!.id, q.pop()!.id, q.pop()!.id]
    for (let i = 0; i < 10; i++) q.push(entry('light', i))
    const order = [...served, ...drain(q)]
    const lastLight = order.lastIndexOf('light-9')
    // Equal shares: the light submitter's 10 are done within its first 10 turns against the flood.
    expect(lastLight).toBeLessThan(3 + 20 + 1)
    expect(order.filter((id) => id.startsWith('light'))).toEqual(
      Array.from({ length: 10 }, (_, i) => `light-${i}`),
    )
    expect(order).toHaveLength(110)
  })

  it('alternates between two backlogged submitters of equal priority', () => {
    const q = new FairShareQueue<QueueEntry>()
    for (let i = 0; i < 3; i++) q.push(entry('a', i))
    for (let i = 0; i < 3; i++) q.push(entry('b', i))
    expect(drain(q)).toEqual(['a-0', 'b-0', 'a-1', 'b-1', 'a-2', 'b-2'])
  })

  it('keeps arrival order within a submitter and priority', () => {
    const q = new FairShareQueue<QueueEntry>()
    for (let i = 0; i < 5; i++) q.push(entry('a', i))
    expect(drain(q)).toEqual(['a-0', 'a-1', 'a-2', 'a-3', 'a-4'])
  })

  it('runs a submitter’s high-priority task before its normal ones', () => {
    const q = new FairShareQueue<QueueEntry>()
    q.push(entry('a', 0))
    q.push(entry('a', 1))
    q.push(entry('a', 2, 'high'))
    expect(drain(q)).toEqual(['a-2', 'a-0', 'a-1'])
  })

  it('gives high priority a larger share without starving normal work', () => {
    const q = new FairShareQueue<QueueEntry>()
    for (let i = 0; i < 40; i++) q.push(entry('hi', i, 'high'))
    for (let i = 0; i < 40; i++) q.push(entry('lo', i, 'low'))
    const first20 = drain(q).slice(0, 20)
    const lows = first20.filter((id) => id.startsWith('lo')).length
    // Weights 4 : 1, so a fifth of the first turns go to the low-priority submitter.
    expect(lows).toBe(4)
  })

  it('gives no credit for idle time: a returning submitter starts at the current virtual time', () => {
    const q = new FairShareQueue<QueueEntry>()
    q.push(entry('a', 0))
    expect(q.pop()!.id).toBe('a-0')
    for (let i = 0; i < 10; i++) q.push(entry('b', i))
    for (let i = 0; i < 10; i++) drain1(q)
    for (let i = 1; i < 4; i++) q.push(entry('a', i))
    for (let i = 10; i < 14; i++) q.push(entry('b', i))
    expect(drain(q)).toEqual(['a-1', 'b-10', 'a-2', 'b-11', 'a-3', 'b-12', 'b-13'])
  })

  it('removes a waiting entry and reports sizes', () => {
    const q = new FairShareQueue<QueueEntry>()
    q.push(entry('a', 0))
    q.push(entry('a', 1))
    q.push(entry('b', 0))
    expect(q.size).toBe(3)
    expect(q.sizeOf('a')).toBe(2)
    expect(q.remove('a-0')?.id).toBe('a-0')
    expect(q.remove('a-0')).toBeUndefined()
    expect(q.has('a-1')).toBe(true)
    expect(q.size).toBe(2)
    expect(drain(q).sort()).toEqual(['a-1', 'b-0'])
    expect(q.size).toBe(0)
    expect(q.submitters).toBe(0)
  })

  it('passes over a submitter whose next entry can’t be served now, holding up no one else', () => {
    const q = new FairShareQueue<QueueEntry>()
    q.push(entry('waits', 0))
    q.push(entry('other', 0))
    q.push(entry('other', 1))
    const servable = (e: QueueEntry) => e.submitter !== 'waits'
    expect([q.pop(servable)?.id, q.pop(servable)?.id, q.pop(servable)?.id]).toEqual([
      'other-0',
      'other-1',
      undefined,
    ])
    expect(q.peek()?.id).toBe('waits-0')
    expect([...q.flowSizes()]).toEqual([['waits', 1]])
  })

  it('puts an entry sent back to wait first in its submitter’s line', () => {
    const q = new FairShareQueue<QueueEntry>()
    q.push(entry('a', 1))
    q.push(entry('a', 0), true)
    expect(drain(q)).toEqual(['a-0', 'a-1'])
  })
})

function drain1(q: FairShareQueue<QueueEntry>): void {
  q.pop()
}
