import { describe, expect, it } from 'vitest'
import { routeByAttempt } from './route.ts'
import { taskListQuery } from './task-queue.svelte.ts'
import type { RouteHop } from './types.ts'

describe('taskListQuery', () => {
  it('asks for one page of the filtered list', () => {
    expect(taskListQuery({ status: null, submitter: '' }, null)).toBe('/tasks?limit=20')
    expect(taskListQuery({ status: 'queued', submitter: ' alice ' }, '42', 5)).toBe(
      '/tasks?limit=5&status=queued&submitter=alice&cursor=42',
    )
  })
})

describe('routeByAttempt', () => {
  it('groups the route by attempt, in order', () => {
    const hop = (attempt: number, event: RouteHop['event']): RouteHop => ({
      at: '',
      attempt,
      peerId: 'p',
      local: false,
      via: null,
      event,
      reasons: [],
      score: null,
    })
    const r = routeByAttempt([hop(1, 'chosen'), hop(1, 'lost'), hop(2, 'chosen'), hop(2, 'completed')])
    expect(r.map((a) => [a.attempt, a.hops.map((h) => h.event)])).toEqual([
      [1, ['chosen', 'lost']],
      [2, ['chosen', 'completed']],
    ])
  })
})
