import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TaskResult, TaskSpec } from '@edgecoder/protocol'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Store } from '../../src/store/index.ts'
import {
  InvalidTransitionError,
  TaskFinishedError,
  TaskNotFoundError,
  TaskStore,
} from '../../src/tasks/index.ts'

let dir: string
let db: Store
let tasks: TaskStore

const spec = (submitter = 'local') =>
  TaskSpec.parse({ kind: 'run', language: 'python', code: 'x = 1', tests: 'assert x == 1', submitter })

const result: TaskResult = {
  code: 'x = 1',
  report: null,
  attempts: [],
  plan: null,
  text: null,
  finishReason: null,
  model: null,
  tokens: { prompt: 0, completion: 0 },
  durations: { queuedMs: 1, runMs: 2, modelMs: 0, sandboxMs: 2 },
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgecoder-taskstore-'))
  db = new Store(join(dir, 'edgecoder.db'))
  tasks = new TaskStore(db)
})
afterEach(() => {
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('TaskStore', () => {
  it('persists a task as queued, with its spec and defaults', () => {
    const t = tasks.create(spec())
    expect(t).toMatchObject({
      status: 'queued',
      kind: 'run',
      submitter: 'local',
      priority: 'normal',
      runs: 0,
    })
    expect(t.spec).toMatchObject({ code: 'x = 1', tests: 'assert x == 1' })
    expect(t.startedAt).toBeNull()
    expect(tasks.get(t.id)).toEqual(t)
  })

  it('moves queued → running → succeeded and records each step', () => {
    const t = tasks.create(spec())
    const running = tasks.start(t.id)
    expect(running.status).toBe('running')
    expect(running.runs).toBe(1)
    expect(running.startedAt).not.toBeNull()
    const done = tasks.finish(t.id, 'succeeded', result, null)
    expect(done.status).toBe('succeeded')
    expect(done.result).toEqual(result)
    expect(done.finishedAt).not.toBeNull()
  })

  it('refuses transitions the lifecycle does not allow', () => {
    const t = tasks.create(spec())
    expect(() => tasks.finish(t.id, 'succeeded', result, null)).toThrow(InvalidTransitionError)
    expect(() => tasks.requeue(t.id)).toThrow(InvalidTransitionError)
    tasks.start(t.id)
    expect(() => tasks.start(t.id)).toThrow(InvalidTransitionError)
    tasks.finish(t.id, 'failed', null, { code: 'tests_failed', message: '1 of 1 tests failed' })
    expect(() => tasks.start(t.id)).toThrow(TaskFinishedError)
    expect(() => tasks.finish(t.id, 'cancelled', null, null)).toThrow(TaskFinishedError)
    expect(tasks.get(t.id).status).toBe('failed')
  })

  it('cancels a queued task without running it', () => {
    const t = tasks.create(spec())
    const c = tasks.finish(t.id, 'cancelled', null, { code: 'cancelled', message: 'x' }, undefined, 'queued')
    expect(c.status).toBe('cancelled')
    expect(c.runs).toBe(0)
  })

  it('puts an interrupted task back in the queue, counting its runs', () => {
    const t = tasks.create(spec())
    tasks.start(t.id)
    expect(tasks.idsWithStatus('running')).toEqual([t.id])
    expect(tasks.requeue(t.id).status).toBe('queued')
    expect(tasks.start(t.id).runs).toBe(2)
  })

  it('keeps every transition across a reopen of the database', () => {
    const a = tasks.create(spec())
    const b = tasks.create(spec())
    tasks.start(a.id)
    db.close()
    db = new Store(join(dir, 'edgecoder.db'))
    tasks = new TaskStore(db)
    expect(tasks.get(a.id).status).toBe('running')
    expect(tasks.idsWithStatus('queued')).toEqual([b.id])
  })

  it('writes an event in the same transaction as its transition', () => {
    const t = tasks.create(spec(), (r) => ({
      taskId: r.id,
      seq: 1,
      type: 'queued',
      at: r.createdAt,
      data: {},
    }))
    tasks.start(t.id, (r) => ({
      taskId: r.id,
      seq: 2,
      type: 'started',
      at: r.updatedAt,
      data: { runs: r.runs },
    }))
    expect(tasks.events(t.id).map((e) => [e.seq, e.type, e.data])).toEqual([
      [1, 'queued', {}],
      [2, 'started', { runs: 1 }],
    ])
    expect(tasks.lastEventSeq(t.id)).toBe(2)
    // A refused transition leaves no event behind.
    expect(() =>
      tasks.start(t.id, (r) => ({ taskId: r.id, seq: 3, type: 'started', at: r.updatedAt, data: {} })),
    ).toThrow(InvalidTransitionError)
    expect(tasks.lastEventSeq(t.id)).toBe(2)
  })

  it('lists newest first, filtered by status and submitter, page by page', () => {
    const ids = Array.from({ length: 5 }, (_, i) => tasks.create(spec(i % 2 ? 'bob' : 'alice')).id)
    tasks.start(ids[0]!)
    const page1 = tasks.list({ limit: 2 })
    expect(page1.tasks.map((t) => t.id)).toEqual([ids[4], ids[3]])
    const page2 = tasks.list({ limit: 2, cursor: page1.nextCursor! })
    expect(page2.tasks.map((t) => t.id)).toEqual([ids[2], ids[1]])
    const page3 = tasks.list({ limit: 2, cursor: page2.nextCursor! })
    expect(page3.tasks.map((t) => t.id)).toEqual([ids[0]])
    expect(page3.nextCursor).toBeNull()
    expect(tasks.list({ limit: 50, submitter: 'bob' }).tasks.map((t) => t.id)).toEqual([ids[3], ids[1]])
    expect(tasks.list({ limit: 50, status: 'running' }).tasks.map((t) => t.id)).toEqual([ids[0]])
    expect(tasks.counts()).toEqual({ queued: 4, running: 1, succeeded: 0, failed: 0, cancelled: 0 })
  })

  it('names an unknown task', () => {
    expect(() => tasks.get('nope')).toThrow(TaskNotFoundError)
  })
})
