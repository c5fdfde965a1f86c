import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TaskSpec, type TaskSpecInput } from '@edgecoder/protocol'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EventBus } from '../../src/events.ts'
import { createLogger } from '../../src/logger.ts'
import { SettingsStore } from '../../src/settings/index.ts'
import { Store } from '../../src/store/index.ts'
import {
  QueueFullError,
  SubmissionRefusedError,
  TaskEngine,
  type TaskEngineOptions,
  TaskFinishedError,
  type TaskModel,
} from '../../src/tasks/index.ts'
import { failureOf } from '../../src/tasks/outcome.ts'
import { ScriptedModel, ScriptedSandbox } from './fakes.ts'

let dir: string
let db: Store
let settings: SettingsStore
let sandbox: ScriptedSandbox
let bus: EventBus
const engines: TaskEngine[] = []

const run = (code: string, extra: Partial<TaskSpecInput> = {}) =>
  TaskSpec.parse({ kind: 'run', language: 'python', code, tests: 'assert f() == 4', ...extra })

function engine(opts: Partial<TaskEngineOptions> = {}, model: TaskModel | null = null): TaskEngine {
  const e = new TaskEngine(opts, { store: db, bus, settings, sandbox, model, log: createLogger('silent') })
  engines.push(e)
  return e
}

async function until<T>(fn: () => T, ms = 5_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v) return v
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgecoder-engine-'))
  db = new Store(join(dir, 'edgecoder.db'))
  settings = new SettingsStore(db, {})
  sandbox = new ScriptedSandbox()
  bus = new EventBus()
})
afterEach(async () => {
  sandbox.release()
  for (const e of engines.splice(0)) await e.stop()
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('TaskEngine', () => {
  it('runs a run task in the sandbox and reports the sandbox verdict, passing or failing', async () => {
    const e = engine()
    await e.start()
    const good = e.submit(run('PASS'))
    const bad = e.submit(run('wrong'))
    await until(() => e.counts().succeeded + e.counts().failed === 2)
    expect(e.get(good.id)).toMatchObject({ status: 'succeeded', error: null, result: { code: 'PASS' } })
    expect(e.get(good.id).result!.report).toMatchObject({ passed: 2, failed: 0, total: 2 })
    expect(e.get(bad.id)).toMatchObject({ status: 'failed', error: { code: 'tests_failed' } })
    expect(e.get(bad.id).result!.report).toMatchObject({
      passed: 1,
      failed: 1,
      output: expect.stringContaining('5'),
    })
  })

  it('runs at most maxConcurrentTasks at once and follows a change at run time', async () => {
    settings.update({ maxConcurrentTasks: 2 })
    sandbox.hold = true
    const e = engine()
    await e.start()
    for (let i = 0; i < 5; i++) e.submit(run('PASS'))
    await until(() => sandbox.running === 2)
    expect(e.runningCount).toBe(2)
    expect(e.queueDepth).toBe(3)
    settings.update({ maxConcurrentTasks: 4 })
    await until(() => sandbox.running === 4)
    sandbox.release()
    await until(() => e.counts().succeeded === 5)
  })

  it('keeps queued tasks waiting while the node is paused, and runs them when it resumes', async () => {
    settings.update({ contributing: false })
    const e = engine()
    await e.start()
    const t = e.submit(run('PASS'))
    // The engine decides placement within submit and within each settings change, so what the
    // task is right after either call is the decision: nothing to wait for.
    expect(e.get(t.id).status).toBe('queued')
    expect(sandbox.calls).toHaveLength(0)
    settings.update({ contributing: true })
    // The same decision, now with the node contributing, starts it at once: the check above
    // would have seen a start.
    expect(e.get(t.id).status).toBe('running')
    await until(() => e.get(t.id).status === 'succeeded')
  })

  it('never runs tasks on a coordinator: they wait for routing', async () => {
    const e = engine({ executes: false })
    await e.start()
    const t = e.submit(run('PASS'))
    // Placement is decided within submit (see the paused case above): it stays queued.
    expect(e.get(t.id).status).toBe('queued')
    settings.update({ maxConcurrentTasks: 4 })
    expect(e.get(t.id).status).toBe('queued')
    expect(sandbox.calls).toHaveLength(0)
  })

  it('refuses local submissions on a worker', async () => {
    const e = engine({ acceptsLocal: false })
    await e.start()
    expect(() => e.submit(run('PASS'))).toThrow(SubmissionRefusedError)
    expect(e.counts().queued).toBe(0)
  })

  it('refuses a task beyond the queue capacity with a retry hint, and stores nothing for it', async () => {
    settings.update({ contributing: false })
    const e = engine({ maxQueued: 3 })
    await e.start()
    // Spread over submitters: one alone may hold only three quarters of the queue.
    for (let i = 0; i < 3; i++) e.submit({ ...run('PASS'), submitter: `s${i}` })
    let refused: unknown
    try {
      e.submit(run('PASS'))
    } catch (err) {
      refused = err
    }
    expect(refused).toBeInstanceOf(QueueFullError)
    expect((refused as QueueFullError).retryAfterSec).toBeGreaterThanOrEqual(1)
    expect(e.counts().queued).toBe(3)
  })

  it('cancels a queued task and a running one, aborting the sandbox', async () => {
    settings.update({ maxConcurrentTasks: 1 })
    sandbox.hold = true
    const e = engine()
    await e.start()
    const first = e.submit(run('PASS'))
    const second = e.submit(run('PASS'))
    await until(() => sandbox.running === 1)
    expect((await e.cancel(second.id)).status).toBe('cancelled')
    expect((await e.cancel(first.id)).status).toBe('cancelled')
    expect(sandbox.running).toBe(0)
    expect(sandbox.calls).toHaveLength(1)
    expect(e.get(first.id).error).toEqual({ code: 'cancelled', message: 'cancelled by the submitter' })
    await expect(e.cancel(first.id)).rejects.toThrow(TaskFinishedError)
  })

  it('queues a task that was running when the node stopped, and completes it on the next start', async () => {
    sandbox.hold = true
    const e1 = engine()
    await e1.start()
    const t = e1.submit(run('PASS'))
    await until(() => sandbox.running === 1)
    await e1.stop()
    expect(e1.get(t.id).status).toBe('queued')
    sandbox.release()
    const e2 = engine()
    await e2.start()
    await until(() => e2.get(t.id).status === 'succeeded')
    expect(e2.get(t.id).runs).toBe(2)
    const types = e2.events.replay(t.id).map((ev) => ev.type)
    expect(types).toEqual(['queued', 'started', 'queued', 'started', 'test-result', 'done'])
  })

  it('re-queues tasks found running in the store (a crash) and runs them', async () => {
    const e1 = engine({ executes: false })
    await e1.start()
    const t = e1.submit(run('PASS'))
    e1.store.start(t.id)
    const e2 = engine()
    await e2.start()
    await until(() => e2.get(t.id).status === 'succeeded')
    expect(e2.events.replay(t.id).find((ev) => ev.type === 'queued' && ev.seq > 1)?.data).toMatchObject({
      reason: 'interrupted',
    })
  })

  it('feeds a failure back to the model and reports the attempt that passed', async () => {
    // The loop writes the start of each answer (`1.`, then a fence and `def f(`): the first
    // reply continues it, the second answers afresh, as a model that ignores the primer would.
    const model = new ScriptedModel([
      ' compute',
      '):\n    return 5\nprint(f())\n',
      'Fixed:\n```python\ndef f():\n    return 4  # PASS\n```',
    ])
    const e = engine({}, model)
    await e.start()
    const t = e.submit(
      TaskSpec.parse({ kind: 'code', language: 'python', prompt: 'return 4', tests: 'assert f() == 4' }),
    )
    await until(() => e.get(t.id).status !== 'queued' && e.get(t.id).status !== 'running')
    const done = e.get(t.id)
    expect(done.status).toBe('succeeded')
    expect(done.result!.plan).toBe('1. compute')
    expect(done.result!.attempts.map((a) => a.report.outcome)).toEqual(['failed', 'passed'])
    expect(done.result!.attempts[0]!.code).toBe('def f():\n    return 5')
    expect(done.result!.code).toBe('def f():\n    return 4  # PASS')
    // Runs against the tests were the attempts' code (the others are the loop's parse checks).
    expect(sandbox.calls.filter((c) => c.tests !== '').map((c) => c.code)).toEqual(
      done.result!.attempts.map((a) => a.code),
    )
    // The retry told the model what failed: the task again, with the failing output.
    const retry = model.requests[2]!.messages
    expect(retry).toHaveLength(2)
    expect(retry.at(-2)!.content).toContain('Task (Python): return 4')
    expect(retry.at(-2)!.content).toContain('AssertionError: expected 4, got 5')
    expect(retry.at(-1)).toEqual({ role: 'assistant', content: '```python\ndef f(' })
    expect(done.result!.tokens.completion).toBeGreaterThan(0)
    const types = e.events.replay(t.id).map((ev) => ev.type)
    expect(types.filter((x) => x !== 'token')).toEqual([
      'queued',
      'started',
      'attempt',
      'test-result',
      'attempt',
      'test-result',
      'done',
    ])
  })

  it('reports a solution that never passes as failed, with the best attempt', async () => {
    const model = new ScriptedModel(['plan', '```python\ndef f():\n    return 5\n```'])
    const e = engine({}, model)
    await e.start()
    const t = e.submit(
      TaskSpec.parse({ kind: 'code', language: 'python', prompt: 'p', tests: 't', maxAttempts: 2 }),
    )
    await until(() => e.get(t.id).status === 'failed')
    const done = e.get(t.id)
    expect(done.error!.code).toBe('tests_failed')
    expect(done.result!.attempts).toHaveLength(2)
    expect(done.result!.report).toMatchObject({ outcome: 'failed', passed: 1, failed: 1 })
  })

  it('fails code and chat tasks with a clear error when there is no model', async () => {
    const e = engine()
    await e.start()
    const c = e.submit(TaskSpec.parse({ kind: 'code', language: 'python', prompt: 'p' }))
    const m = e.submit(TaskSpec.parse({ kind: 'chat', messages: [{ role: 'user', content: 'hi' }] }))
    await until(() => e.counts().failed === 2)
    for (const id of [c.id, m.id]) {
      expect(e.get(id).error!.code).toBe('no_model')
      expect(e.get(id).error!.message).toContain('--model')
    }
  })

  it('streams a chat completion as token events', async () => {
    const e = engine({}, new ScriptedModel(['Hello there, friend']))
    await e.start()
    const seen: string[] = []
    bus.on('event', (ev) => {
      if (ev.type === 'task-token') seen.push((ev.data as { data: { text: string } }).data.text)
    })
    const t = e.submit(TaskSpec.parse({ kind: 'chat', messages: [{ role: 'user', content: 'hi' }] }))
    await until(() => e.get(t.id).status === 'succeeded')
    expect(seen.join('')).toBe('Hello there, friend')
    expect(e.get(t.id).result!.text).toBe('Hello there, friend')
  })
})

describe('failureOf', () => {
  it('names a missing model, keeps an inference error code, and marks the rest unexpected', () => {
    const notFound = Object.assign(new Error('model "x" not found (available: none)'), {
      code: 'model_not_found',
    })
    expect(failureOf(notFound)).toEqual({
      code: 'no_model',
      message: 'model "x" not found (available: none): start the agent with --model <path to a .gguf file>',
    })
    const overflow = Object.assign(new Error('prompt is 9000 tokens'), { code: 'context_overflow' })
    expect(failureOf(overflow)).toEqual({ code: 'context_overflow', message: 'prompt is 9000 tokens' })
    expect(failureOf(new TypeError('boom'))).toEqual({ code: 'execution_failed', message: 'TypeError: boom' })
  })
})
