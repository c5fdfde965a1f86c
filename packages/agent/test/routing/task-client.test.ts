import { type ExecutorFrame, SubmitterFrame, TASK_PROTOCOL, TaskSpec } from '@edgecoder/protocol'
import type { Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ExecutorLostError,
  ExecutorStalledError,
  FrameChannel,
  OfferDeclinedError,
  stallAfterMs,
  TaskProtocolError,
} from '../../src/routing/index.ts'
import { OPTIONS, submitterNode, testHost } from './helpers.ts'

type Behaviour = (
  io: FrameChannel<SubmitterFrame, ExecutorFrame>,
  offer: { taskId: string; attempt: number },
) => Promise<void>

let submitter: Awaited<ReturnType<typeof submitterNode>>
let fake: Awaited<ReturnType<typeof testHost>>
let behaviour: Behaviour = async () => {}

beforeAll(async () => {
  submitter = await submitterNode()
  fake = await testHost()
  // A stand-in executor whose answers each test scripts.
  await fake.host.handle(TASK_PROTOCOL, (stream: Stream) => {
    const io = new FrameChannel<SubmitterFrame, ExecutorFrame>(stream, SubmitterFrame)
    void (async () => {
      for await (const f of io.frames()) {
        if (f.ok && f.frame.type === 'offer') {
          const { taskId, attempt } = f.frame.offer.body
          await behaviour(io, { taskId, attempt }).catch(() => {})
          return
        }
      }
    })()
  })
})
afterAll(async () => {
  await submitter.host.stop()
  await fake.host.stop()
})

const spec = TaskSpec.parse({ kind: 'run', language: 'python', code: 'x = 1' })
const run = (signal = AbortSignal.timeout(15_000)) =>
  submitter.client.run({
    peerId: fake.peerId,
    addrs: fake.host.getMultiaddrs().map((a) => a.toString()),
    taskId: 't',
    attempt: 3,
    spec,
    signal,
  })
const accept = (io: FrameChannel<SubmitterFrame, ExecutorFrame>, o: { taskId: string; attempt: number }) =>
  io.send({ type: 'accept', ...o, executorTaskId: 'copy' })

describe('TaskClient', () => {
  it('calls an executor that accepts and then falls silent stalled, within a few heartbeats', async () => {
    behaviour = async (io, o) => {
      await accept(io, o)
    }
    const t0 = Date.now()
    await expect(run()).rejects.toThrow(ExecutorStalledError)
    const took = Date.now() - t0
    expect(took).toBeGreaterThanOrEqual(stallAfterMs(OPTIONS) - 50)
    expect(took).toBeLessThan(stallAfterMs(OPTIONS) + 2_000)
  })

  it('calls an executor whose stream breaks mid-task lost', async () => {
    behaviour = async (io, o) => {
      await accept(io, o)
      await io.send({ type: 'heartbeat', state: 'running' })
      io.abort(new Error('killed'))
    }
    await expect(run()).rejects.toThrow(ExecutorLostError)
  })

  it('refuses a result for another attempt than the one offered', async () => {
    behaviour = async (io, o) => {
      await accept(io, o)
      await io.send({
        type: 'result',
        taskId: o.taskId,
        attempt: o.attempt - 1,
        status: 'succeeded',
        result: null,
        error: null,
      })
    }
    await expect(run()).rejects.toThrow(TaskProtocolError)
  })

  it('refuses progress on a task the executor never accepted', async () => {
    behaviour = async (io) => {
      await io.send({ type: 'event', event: { type: 'token', text: 'x', phase: 'chat', attempt: null } })
    }
    await expect(run()).rejects.toThrow(TaskProtocolError)
  })

  it('passes a decline on with its reason and retry hint', async () => {
    behaviour = async (io, o) => {
      await io.send({ type: 'decline', ...o, reason: 'busy', message: 'full', retryAfterMs: 1500 })
    }
    const err = await run().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OfferDeclinedError)
    expect(err).toMatchObject({ reason: 'busy', retryAfterMs: 1500 })
  })

  it('calls a peer it cannot reach lost', async () => {
    const gone = await testHost()
    const addrs = gone.host.getMultiaddrs().map((a) => a.toString())
    await gone.host.stop()
    const err = await submitter.client
      .run({ peerId: gone.peerId, addrs, taskId: 't', attempt: 1, spec, signal: AbortSignal.timeout(10_000) })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ExecutorLostError)
  })

  it('sends cancel when aborted and gives the abort reason back', async () => {
    const accepted = Promise.withResolvers<void>()
    const cancelled = Promise.withResolvers<void>()
    behaviour = async (io, o) => {
      await accept(io, o)
      accepted.resolve()
      for await (const f of io.frames()) if (f.ok && f.frame.type === 'cancel') cancelled.resolve()
    }
    const ctrl = new AbortController()
    const p = run(ctrl.signal)
    // Aborted while the executor runs it, not before the offer was even answered.
    await accepted.promise
    ctrl.abort(new Error('stop it'))
    await expect(p).rejects.toThrow('stop it')
    await cancelled.promise
  })
})
