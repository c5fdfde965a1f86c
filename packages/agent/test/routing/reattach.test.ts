import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type ExecutorFrame,
  SubmitterFrame,
  TASK_PROTOCOL,
  type TaskRecord,
  TaskSpec,
  type TaskSpecInput,
  type TestReport,
} from '@edgecoder/protocol'
import type { Stream } from '@libp2p/interface'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { EventBus } from '../../src/events.ts'
import { createLogger } from '../../src/logger.ts'
import { PeerTable } from '../../src/mesh/index.ts'
import { FrameChannel, MeshRouter, routingOptions } from '../../src/routing/index.ts'
import { SettingsStore } from '../../src/settings/index.ts'
import { Store } from '../../src/store/index.ts'
import { TaskEngine } from '../../src/tasks/index.ts'
import { advertBody, checked } from '../mesh/helpers.ts'
import { ScriptedSandbox } from '../tasks/fakes.ts'
import { submitterNode, testHost } from './helpers.ts'

type Io = FrameChannel<SubmitterFrame, ExecutorFrame>
/** What the stand-in executor does with the n-th offer it gets (from 1). */
type Behaviour = (io: Io, offer: { taskId: string; attempt: number }, n: number) => Promise<void>

const OPTIONS = routingOptions({ heartbeatMs: 100, answerTimeoutMs: 2_000, lostBackoffMs: 100 })
const REPORT: TestReport = {
  language: 'python',
  ok: true,
  outcome: 'passed',
  passed: 1,
  failed: 0,
  total: 1,
  output: 'ok',
  durationMs: 3,
}

let submitter: Awaited<ReturnType<typeof submitterNode>>
let fake: Awaited<ReturnType<typeof testHost>>
let engine: TaskEngine
let store: Store
const dir = mkdtempSync(join(tmpdir(), 'edgecoder-reattach-'))
let behaviour: Behaviour = async () => {}
let offers: { attempt: number }[] = []

beforeAll(async () => {
  submitter = await submitterNode(OPTIONS)
  fake = await testHost()
  // A stand-in executor, scripted per test: it answers each offer as `behaviour` says.
  await fake.host.handle(TASK_PROTOCOL, (stream: Stream) => {
    const io: Io = new FrameChannel(stream, SubmitterFrame)
    void (async () => {
      for await (const f of io.frames()) {
        if (f.ok && f.frame.type === 'offer') {
          const { taskId, attempt } = f.frame.offer.body
          offers.push({ attempt })
          await behaviour(io, { taskId, attempt }, offers.length).catch(() => {})
          return
        }
      }
    })()
  })
  await submitter.host.dial(fake.host.getMultiaddrs())
  // The submitter sees the stand-in as a worker with free slots, as its advert would say.
  const peers = new PeerTable({ evictAfterHeartbeats: 60 })
  const addrs = fake.host.getMultiaddrs().map((a) => a.toString())
  peers.offer(await checked(fake.key, advertBody(fake.peerId, { addrs, roles: ['worker'] })), Date.now())
  store = new Store(join(dir, 'edgecoder.db'))
  const settings = new SettingsStore(store, {})
  const log = createLogger('silent')
  const router = new MeshRouter({
    options: OPTIONS,
    selfId: submitter.peerId,
    executes: false,
    peers,
    settings,
    client: submitter.client,
    log,
    local: () => ({ models: [], slots: { total: 0, free: 0 }, queueDepth: 0, load: 0 }),
  })
  engine = new TaskEngine(
    { executes: false },
    { store, bus: new EventBus(), settings, sandbox: new ScriptedSandbox(), model: null, log, router },
  )
  await engine.start()
})
afterAll(async () => {
  await engine.stop()
  await submitter.host.stop()
  await fake.host.stop()
  store.close()
  rmSync(dir, { recursive: true, force: true })
})
beforeEach(() => {
  offers = []
})

const spec = TaskSpec.parse({ kind: 'run', language: 'python', code: 'print("ok")' } satisfies TaskSpecInput)
const accept = (io: Io, o: { taskId: string; attempt: number }, copy = 'copy-1') =>
  io.send({ type: 'accept', ...o, executorTaskId: copy })
const progress = (io: Io) =>
  io.send({ type: 'event', event: { type: 'test-result', attempt: null, report: REPORT } })
const result = (io: Io, o: { taskId: string; attempt: number }) =>
  io.send({
    type: 'result',
    ...o,
    status: 'succeeded',
    result: {
      code: null,
      report: REPORT,
      attempts: [],
      plan: null,
      text: null,
      finishReason: null,
      model: null,
      tokens: { prompt: 0, completion: 0 },
      durations: { queuedMs: 0, runMs: 5, modelMs: 0, sandboxMs: 3 },
    },
    error: null,
  })

async function finished(id: string): Promise<TaskRecord> {
  for (;;) {
    const t = engine.get(id)
    if (t.status === 'succeeded' || t.status === 'failed' || t.status === 'cancelled') return t
    await new Promise<void>((r) => {
      const off = engine.events.subscribe(id, () => {
        off()
        r()
      })
    })
  }
}
const events = (t: TaskRecord) => t.route.map((h) => h.event)

describe('a submitter that loses the stream of an accepted task', () => {
  it('collects the result of a copy that finished meanwhile by asking again: one run, each event once', async () => {
    behaviour = async (io, o, n) => {
      await accept(io, o)
      // The copy's one event (asked again, the executor replays it), then the first stream
      // breaks before the result; asked again, the copy is done.
      await progress(io)
      if (n === 1) return io.abort(new Error('connection reset'))
      await result(io, o)
      await io.close()
    }
    const t = await finished(engine.submit(spec).id)
    expect(t.status).toBe('succeeded')
    expect(offers).toEqual([{ attempt: 1 }, { attempt: 1 }])
    expect(t.runs).toBe(1)
    expect(events(t)).toEqual(['chosen', 'accepted', 'lost', 'accepted', 'completed'])
    expect(t.route[2]!.reasons[1]).toBe('asking it again for its copy')
    expect(t.route[3]!.reasons[0]).toMatch(/^taken up again/)
    const reports = engine.events.replay(t.id).filter((e) => e.type === 'test-result')
    expect(reports).toHaveLength(1)
  })

  it('reruns a stalled task without asking the silent executor again: a stall costs one wait', async () => {
    behaviour = async (io, o, n) => {
      await accept(io, o, `copy-${n}`)
      if (n === 1) return // silent from here: the submitter calls it stalled
      await result(io, o)
      await io.close()
    }
    const t = await finished(engine.submit(spec).id)
    expect(t.status).toBe('succeeded')
    expect(offers).toEqual([{ attempt: 1 }, { attempt: 2 }])
    expect(events(t)).toEqual(['chosen', 'accepted', 'stalled', 'chosen', 'accepted', 'completed'])
  })

  it('reruns the task (the next attempt) when the copy was given up there, and says why', async () => {
    behaviour = async (io, o, n) => {
      if (n === 3) {
        await accept(io, o, 'copy-2')
        await result(io, o)
        return io.close()
      }
      await accept(io, o)
      if (n === 1) return io.abort(new Error('connection reset'))
      // Asked again: the executor had cancelled its copy when the first stream went away.
      await io.send({
        type: 'result',
        ...o,
        status: 'cancelled',
        result: null,
        error: { code: 'cancelled', message: 'the submitter left' },
      })
      await io.close()
    }
    const t = await finished(engine.submit(spec).id)
    expect(t.status).toBe('succeeded')
    expect(offers).toEqual([{ attempt: 1 }, { attempt: 1 }, { attempt: 2 }])
    expect(t.runs).toBe(2)
    expect(events(t)).toEqual([
      'chosen',
      'accepted',
      'lost',
      'accepted',
      'lost',
      'chosen',
      'accepted',
      'completed',
    ])
  })

  it('reruns it when asking again fails too, with both reasons in the requeue', async () => {
    behaviour = async (io, o, n) => {
      if (n === 2) {
        await io.send({
          type: 'decline',
          ...o,
          reason: 'stopping',
          message: 'this node is stopping',
          retryAfterMs: null,
        })
        return io.close()
      }
      await accept(io, o, `copy-${n}`)
      if (n === 1) return io.abort(new Error('connection reset'))
      await result(io, o)
      await io.close()
    }
    const t = await finished(engine.submit(spec).id)
    expect(t.status).toBe('succeeded')
    expect(offers).toEqual([{ attempt: 1 }, { attempt: 1 }, { attempt: 2 }])
    expect(events(t)).toEqual(['chosen', 'accepted', 'lost', 'chosen', 'accepted', 'completed'])
    const requeued = engine.events.replay(t.id).find((e) => e.type === 'queued' && e.seq > 1)
    expect(requeued?.data.reason).toMatch(/; asked again: .*stopping/)
  })
})
