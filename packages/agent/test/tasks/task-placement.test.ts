import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type RouteHop, type TaskRecord, TaskSpec } from '@edgecoder/protocol'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { EventBus } from '../../src/events.ts'
import { createLogger } from '../../src/logger.ts'
import { SettingsStore } from '../../src/settings/index.ts'
import { Store } from '../../src/store/index.ts'
import {
  AdoptionRefusedError,
  emptyResult,
  type Placement,
  TaskDeclinedError,
  TaskDisplacedError,
  TaskEngine,
  type TaskRouter,
} from '../../src/tasks/index.ts'
import { ScriptedSandbox } from './fakes.ts'

/** A router that sends every task to `peer`, whose answers the test scripts. */
class ScriptedRouter implements TaskRouter {
  room = true
  /** Times the engine asked where a task goes, room or not. */
  asked = 0
  answers: ('ok' | 'displace' | 'decline')[] = []
  placed: number[] = []
  #wake: (() => void) | null = null

  place(task: TaskRecord): Placement | null {
    this.asked++
    if (!this.room) return null
    const hop: RouteHop = {
      at: new Date().toISOString(),
      attempt: task.runs + 1,
      peerId: 'peer',
      local: false,
      via: null,
      event: 'chosen',
      reasons: ['scripted'],
      score: 1,
    }
    return {
      where: 'remote',
      hop,
      run: async (t) => {
        this.placed.push(t.runs)
        const answer = this.answers.shift() ?? 'ok'
        if (answer === 'displace') throw new TaskDisplacedError('peer lost it')
        if (answer === 'decline') throw new TaskDeclinedError('peer declined it (busy)')
        return {
          status: 'succeeded',
          error: null,
          result: { ...emptyResult(), code: 'remote' },
          modelMs: 0,
          sandboxMs: 1,
        }
      },
    }
  }

  onCapacity(fn: () => void): () => void {
    this.#wake = fn
    return () => (this.#wake = null)
  }

  opened(): void {
    this.room = true
    this.#wake?.()
  }
}

let dir: string
let db: Store
let settings: SettingsStore
let router: ScriptedRouter
const engines: TaskEngine[] = []
const run = TaskSpec.parse({ kind: 'run', language: 'python', code: 'PASS' })

function engine(opts: { executes?: boolean; maxRuns?: number } = {}): TaskEngine {
  const e = new TaskEngine(opts, {
    store: db,
    bus: new EventBus(),
    settings,
    sandbox: new ScriptedSandbox(),
    model: null,
    log: createLogger('silent'),
    router,
  })
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
  dir = mkdtempSync(join(tmpdir(), 'edgecoder-placement-'))
  db = new Store(join(dir, 'edgecoder.db'))
  settings = new SettingsStore(db, {})
  router = new ScriptedRouter()
})
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop()
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('TaskEngine with a router', () => {
  it('runs a task where the router places it and keeps the route', async () => {
    const e = engine({ executes: false })
    await e.start()
    const t = e.submit(run)
    const done = (await until(() => (e.get(t.id).status === 'succeeded' ? e.get(t.id) : null)))!
    expect(done.result?.code).toBe('remote')
    expect(done.route).toMatchObject([{ event: 'chosen', peerId: 'peer', attempt: 1, reasons: ['scripted'] }])
    expect(e.events.replay(t.id).map((ev) => ev.type)).toEqual(['queued', 'routed', 'started', 'done'])
  })

  it('keeps a task waiting while no node has room, and places it when room opens', async () => {
    router.room = false
    const e = engine({ executes: false })
    await e.start()
    const t = e.submit(run)
    // Submit answers before placing; the engine then asks the router, is told there is no room,
    // and the task waits.
    expect(router.asked).toBe(0)
    await until(() => router.asked > 0)
    expect(e.get(t.id).status).toBe('queued')
    router.opened()
    await until(() => e.get(t.id).status === 'succeeded')
  })

  it('puts a displaced task back at the front and places it again as the next attempt', async () => {
    router.answers = ['displace']
    const e = engine({ executes: false })
    await e.start()
    const t = e.submit(run)
    await until(() => e.get(t.id).status === 'succeeded')
    expect(router.placed).toEqual([1, 2])
    expect(e.get(t.id).runs).toBe(2)
    const requeued = e.events.replay(t.id).find((ev) => ev.type === 'queued' && ev.seq > 1)
    expect(requeued?.data).toMatchObject({ reason: 'peer lost it', runs: 1 })
  })

  it('fails a task no executor finishes after maxRuns, with no_executor', async () => {
    router.answers = ['displace', 'displace', 'displace']
    const e = engine({ executes: false, maxRuns: 3 })
    await e.start()
    const t = e.submit(run)
    const failed = (await until(() => (e.get(t.id).status === 'failed' ? e.get(t.id) : null)))!
    expect(failed.error).toMatchObject({ code: 'no_executor' })
    expect(failed.runs).toBe(3)
  })

  it('never fails a task for declines: busy peers leave it waiting, and the runs count only real ones', async () => {
    router.answers = ['decline', 'decline', 'decline', 'decline', 'displace']
    const e = engine({ executes: false, maxRuns: 3 })
    await e.start()
    const t = e.submit(run)
    const done = (await until(() => (e.get(t.id).status === 'succeeded' ? e.get(t.id) : null)))!
    // Four declines (more than maxRuns) and a loss: two real runs, the second one succeeded.
    expect(done.runs).toBe(2)
    expect(router.placed).toEqual([1, 1, 1, 1, 1, 2])
  })
})

describe('TaskEngine adopting peers’ tasks', () => {
  const origin = (taskId: string, attempt = 1) => ({ peerId: 'submitter', taskId, attempt })
  let sandbox: ScriptedSandbox

  /** An executing engine whose sandbox holds every run until released. */
  function executor(): TaskEngine {
    const e = new TaskEngine(
      {},
      { store: db, bus: new EventBus(), settings, sandbox, model: null, log: createLogger('silent') },
    )
    engines.push(e)
    return e
  }

  beforeEach(() => {
    sandbox = new ScriptedSandbox()
    sandbox.hold = true
    settings.update({ maxConcurrentTasks: 1 })
  })
  afterEach(() => sandbox.release())

  it('takes one copy per task and attempt: the same attempt offered again is the same task', async () => {
    const e = executor()
    await e.start()
    const first = e.adopt(run, origin('a'))
    expect(e.adopt(run, origin('a')).id).toBe(first.id)
    expect(e.adopt(run, origin('a', 2)).id).not.toBe(first.id)
    expect(e.counts().queued + e.counts().running).toBe(2)
  })

  it('refuses a peer more waiting tasks than it has slots, and any peer once their shared room is full', async () => {
    const e = executor()
    await e.start()
    e.adopt(run, origin('running'))
    e.adopt(run, origin('waiting'))
    let refused: unknown
    try {
      e.adopt(run, origin('one too many'))
    } catch (err) {
      refused = err
    }
    expect(refused).toBeInstanceOf(AdoptionRefusedError)
    expect(refused).toMatchObject({ reason: 'busy' })
    // Another peer still finds room; a third identity does not: the room is shared by all.
    expect(e.adopt(run, { peerId: 'other', taskId: 'x', attempt: 1 }).status).toBe('queued')
    expect(() => e.adopt(run, { peerId: 'third', taskId: 'y', attempt: 1 })).toThrow(/room kept for them/)
    expect(e.adoptedWaiting).toBe(2)
  })

  it('gives fresh identities flooding offers no more than the peer pool; the local user’s task still runs', async () => {
    settings.update({ maxConcurrentTasks: 2 })
    const e = executor()
    await e.start()
    let taken = 0
    for (let i = 0; i < 20; i++) {
      try {
        e.adopt(run, { peerId: `fresh-${i}`, taskId: `t${i}`, attempt: 1 })
        taken++
      } catch (err) {
        expect(err).toMatchObject({ reason: 'busy' })
      }
    }
    // One slot of two for peers (the local user keeps the other), and four waiting.
    expect(taken).toBe(1 + 4)
    expect(sandbox.running).toBe(1)
    const local = e.submit(TaskSpec.parse({ kind: 'run', language: 'python', code: 'PASS', submitter: 'me' }))
    await vi.waitFor(() => expect(e.get(local.id).status).toBe('running'))
    expect(sandbox.running).toBe(2)
  })

  it('declines peers’ run and code tasks where the sandbox is not confined, and still takes chat', async () => {
    const e = new TaskEngine(
      { acceptsPeerCode: false },
      { store: db, bus: new EventBus(), settings, sandbox, model: null, log: createLogger('silent') },
    )
    engines.push(e)
    await e.start()
    expect(() => e.adopt(run, origin('code'))).toThrow(/no OS confinement/)
    const chat = TaskSpec.parse({ kind: 'chat', messages: [{ role: 'user', content: 'hi' }] })
    expect(e.adopt(chat, origin('chat')).status).not.toBe('failed')
    expect(sandbox.calls).toHaveLength(0)
  })

  it('refuses peers’ tasks on a coordinator and while paused', async () => {
    const c = engine({ executes: false })
    await c.start()
    expect(() => c.adopt(run, origin('x'))).toThrow(AdoptionRefusedError)
    const e = executor()
    await e.start()
    settings.update({ contributing: false })
    expect(() => e.adopt(run, origin('y'))).toThrow(/not taking work/)
  })

  it('gives up the copies it held when it stops or restarts: their submitters rerun them', async () => {
    const e1 = executor()
    await e1.start()
    const running = e1.adopt(run, origin('running'))
    const waiting = e1.adopt(run, origin('waiting'))
    await e1.stop()
    // Stopping, it gives up the running and the waiting copy alike, while their streams are open.
    const gone = {
      status: 'cancelled',
      error: { code: 'executor_gone', message: 'the executor is stopping' },
    }
    expect(e1.get(running.id)).toMatchObject(gone)
    expect(e1.get(waiting.id)).toMatchObject(gone)
    // A copy a crash left behind (no stop) is given up at the next start.
    const e2 = executor()
    await e2.start()
    const left = e2.adopt(run, origin('left by a crash'))
    const e3 = executor()
    await e3.start()
    expect(e3.get(left.id)).toMatchObject({
      status: 'cancelled',
      error: { code: 'executor_gone', message: 'the executor restarted' },
    })
  })
})
