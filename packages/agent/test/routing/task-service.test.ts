import { TASK_PROTOCOL, type TaskOfferBody, TaskSpec, type TaskSpecInput } from '@edgecoder/protocol'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { MeshHost } from '../../src/mesh/host.ts'
import { newNonce, signOffer } from '../../src/routing/index.ts'
import { TaskCancelledError } from '../../src/tasks/index.ts'
import { ExecutorNode, rawStream, submitterNode, testHost, until } from './helpers.ts'

let executor: ExecutorNode
let submitter: Awaited<ReturnType<typeof submitterNode>>
let stranger: Awaited<ReturnType<typeof testHost>>
let n = 0

beforeAll(async () => {
  executor = await new ExecutorNode().start()
  submitter = await submitterNode()
  stranger = await testHost()
})
afterAll(async () => {
  await executor.stop()
  await submitter.host.stop()
  await stranger.host.stop()
})
beforeEach(() => {
  executor.sandbox.release()
  executor.settings.update({ maxConcurrentTasks: 2 })
})

const runSpec = (code = 'PASS', extra: Partial<TaskSpecInput> = {}) =>
  TaskSpec.parse({ kind: 'run', language: 'python', code, ...extra })

function offerBody(patch: Partial<TaskOfferBody> = {}): TaskOfferBody {
  const now = Date.now()
  return {
    v: 1,
    taskId: `task-${++n}`,
    attempt: 1,
    origin: submitter.peerId,
    executor: executor.peerId,
    spec: runSpec(),
    heartbeatMs: 100,
    nonce: newNonce(),
    issuedAt: now,
    expiresAt: now + 30_000,
    ...patch,
  }
}

const tasksHere = () => executor.engine.list({ limit: 200 }).tasks

describe('TaskService', () => {
  it('runs an accepted offer as a task of the submitter’s and streams its progress and result', async () => {
    const events: string[] = []
    let copy = ''
    const r = await submitter.client.run({
      peerId: executor.peerId,
      addrs: executor.addrs(),
      taskId: 'first',
      attempt: 1,
      spec: runSpec(),
      signal: AbortSignal.timeout(10_000),
      onAccept: (a) => {
        copy = a.executorTaskId
        expect(a.via).toBeNull()
      },
      onEvent: (e) => events.push(e.type),
    })
    expect(r).toMatchObject({ status: 'succeeded', executorTaskId: copy, error: null })
    expect(r.result?.report).toMatchObject({ passed: 2, failed: 0 })
    expect(events).toContain('test-result')
    expect(executor.engine.get(copy)).toMatchObject({
      status: 'succeeded',
      origin: { peerId: submitter.peerId, taskId: 'first', attempt: 1 },
    })
  })

  it('declines a forged offer, one for another node, one relayed by another peer and an expired one; stores nothing', async () => {
    const before = tasksHere().length
    const cases: [string, () => Promise<unknown>, 'host' | 'stranger'][] = [
      ['forged', () => signOffer(offerBody(), stranger.key), 'host'],
      ['misaddressed', () => signOffer(offerBody({ executor: stranger.peerId }), submitter.key), 'host'],
      ['forged', () => signOffer(offerBody(), submitter.key), 'stranger'],
      ['expired', () => signOffer(offerBody({ issuedAt: 1, expiresAt: 2 }), submitter.key), 'host'],
    ]
    for (const [reason, make, from] of cases) {
      const host: MeshHost = from === 'host' ? submitter.host : stranger.host
      const { io, next } = await rawStream(host, executor)
      await io.send({ type: 'offer', offer: (await make()) as never })
      expect(await next()).toMatchObject({ type: 'decline', reason })
      expect(await next()).toBeNull()
    }
    expect(tasksHere().length).toBe(before)
  })

  it('declines a first frame that is not a well-formed offer', async () => {
    const { io, next } = await rawStream(submitter.host, executor)
    await io.send({ type: 'cancel', reason: 'nothing to cancel' })
    expect(await next()).toMatchObject({ type: 'decline', reason: 'malformed' })
    const second = await rawStream(submitter.host, executor)
    await second.io.send({ type: 'offer', offer: { body: { v: 1 }, sig: 'x' } as never })
    const d = await second.next()
    expect(d).toMatchObject({ type: 'decline', reason: 'malformed' })
  })

  it('refuses a replayed offer, also after the executor restarts, and runs it only once', async () => {
    const offer = await signOffer(offerBody(), submitter.key)
    const first = await rawStream(submitter.host, executor)
    await first.io.send({ type: 'offer', offer })
    expect(await until(first.next, 'result')).toMatchObject({ status: 'succeeded' })
    const runs = executor.sandbox.calls.length
    const again = await rawStream(submitter.host, executor)
    await again.io.send({ type: 'offer', offer })
    expect(await again.next()).toMatchObject({ type: 'decline', reason: 'replayed' })
    await executor.restart()
    const later = await rawStream(submitter.host, executor)
    await later.io.send({ type: 'offer', offer })
    expect(await later.next()).toMatchObject({ type: 'decline', reason: 'replayed' })
    expect(executor.sandbox.calls.length).toBe(runs)
  })

  it('answers a retried attempt (fresh nonce) with the same copy and its result: the task runs once', async () => {
    const body = offerBody()
    const first = await rawStream(submitter.host, executor)
    await first.io.send({ type: 'offer', offer: await signOffer(body, submitter.key) })
    const accepted = await until(first.next, 'accept')
    expect(await until(first.next, 'result')).toMatchObject({ status: 'succeeded' })
    const runs = executor.sandbox.calls.length
    const retry = await rawStream(submitter.host, executor)
    await retry.io.send({
      type: 'offer',
      offer: await signOffer({ ...body, nonce: newNonce() }, submitter.key),
    })
    expect(await retry.next()).toMatchObject({ type: 'accept', executorTaskId: accepted!.executorTaskId })
    expect(await until(retry.next, 'result')).toMatchObject({ status: 'succeeded', taskId: body.taskId })
    expect(executor.sandbox.calls.length).toBe(runs)
  })

  it('bills a finished copy once, however often its submitter asks for it again', async () => {
    const bills: string[] = []
    const billed = new ExecutorNode()
    billed.settlement = {
      quote: async () => ({ ok: true, quote: { perKTokens: 0, perCpuSecond: 1, max: 10 } }),
      executed: async (offer) => {
        bills.push(`${offer.taskId}/${offer.attempt}`)
      },
      quoted: () => null,
      observed: () => {},
    }
    await billed.start()
    try {
      const body = offerBody({ executor: billed.peerId })
      for (let i = 0; i < 3; i++) {
        const s = await rawStream(submitter.host, billed)
        await s.io.send({
          type: 'offer',
          offer: await signOffer({ ...body, nonce: newNonce() }, submitter.key),
        })
        expect(await until(s.next, 'result')).toMatchObject({ status: 'succeeded', taskId: body.taskId })
      }
      expect(bills).toEqual([`${body.taskId}/1`])
    } finally {
      await billed.stop()
    }
  })

  it('gives its copies up on their streams when the node stops, running and waiting: the submitters hear why', async () => {
    const stopping = await new ExecutorNode().start()
    stopping.settings.update({ maxConcurrentTasks: 1 })
    stopping.sandbox.hold = true
    const copies: string[] = []
    const offer = (taskId: string) =>
      submitter.client.run({
        peerId: stopping.peerId,
        addrs: stopping.addrs(),
        taskId,
        attempt: 1,
        spec: runSpec(),
        signal: AbortSignal.timeout(15_000),
        onAccept: (a) => {
          copies.push(a.executorTaskId)
        },
      })
    const running = offer('stopped-under-it')
    await waitUntil(() => copies.length === 1 && stopping.engine.get(copies[0]!).status === 'running')
    const waiting = offer('waiting-behind-it')
    await waitUntil(() => copies.length === 2)
    try {
      // A node stops its engine first, then the service (node.ts): this is that order.
      await stopping.engine.stop()
      await stopping.service.stop()
      const gone = {
        status: 'cancelled',
        error: { code: 'executor_gone', message: 'the executor is stopping' },
      }
      expect(await running).toMatchObject(gone)
      expect(await waiting).toMatchObject(gone)
    } finally {
      await stopping.stop()
    }
  })

  it('lets the result of a copy that finished as the node stopped leave before dropping its stream', async () => {
    let stored = () => {}
    const billing = new ExecutorNode()
    billing.settlement = {
      quote: async () => ({ ok: true, quote: { perKTokens: 0, perCpuSecond: 1, max: 10 } }),
      // The claim is being stored when the node is told to stop.
      executed: () => new Promise<void>((r) => (stored = r)),
      quoted: () => null,
      observed: () => {},
    }
    await billing.start()
    let billed = false
    const bill = billing.settlement.executed
    billing.settlement.executed = (...args) => {
      billed = true
      return bill(...args)
    }
    try {
      const done = submitter.client.run({
        peerId: billing.peerId,
        addrs: billing.addrs(),
        taskId: 'finished-at-the-stop',
        attempt: 1,
        spec: runSpec(),
        signal: AbortSignal.timeout(15_000),
      })
      await waitUntil(() => billed)
      await billing.engine.stop()
      const stopped = billing.service.stop()
      stored()
      await stopped
      expect(await done).toMatchObject({ status: 'succeeded' })
    } finally {
      await billing.stop()
    }
  })

  it('cancels its copy when the submitter cancels, and when the submitter’s stream goes away', async () => {
    executor.sandbox.hold = true
    const ctrl = new AbortController()
    let copy = ''
    const running = submitter.client.run({
      peerId: executor.peerId,
      addrs: executor.addrs(),
      taskId: 'to-cancel',
      attempt: 1,
      spec: runSpec(),
      signal: ctrl.signal,
      onAccept: (a) => {
        copy = a.executorTaskId
      },
    })
    await waitUntil(() => copy !== '' && executor.engine.get(copy).status === 'running')
    ctrl.abort(new TaskCancelledError('changed my mind'))
    await expect(running).rejects.toThrow(TaskCancelledError)
    await waitUntil(() => executor.engine.get(copy).status === 'cancelled')

    const { io, next } = await rawStream(submitter.host, executor)
    await io.send({ type: 'offer', offer: await signOffer(offerBody(), submitter.key) })
    const gone = await until(next, 'accept')
    await waitUntil(() => executor.engine.get(gone!.executorTaskId).status === 'running')
    io.abort(new Error('submitter died'))
    await waitUntil(() => executor.engine.get(gone!.executorTaskId).status === 'cancelled')
  })

  it('declines with busy once the submitter has maxConcurrentTasks tasks waiting here', async () => {
    executor.settings.update({ maxConcurrentTasks: 1 })
    executor.sandbox.hold = true
    const answers = []
    for (let i = 0; i < 3; i++) {
      const s = await rawStream(submitter.host, executor)
      await s.io.send({ type: 'offer', offer: await signOffer(offerBody(), submitter.key) })
      answers.push(await s.next())
      if (i === 0) await waitUntil(() => executor.engine.localRunning === 1)
    }
    expect(answers.map((a) => a?.type)).toEqual(['accept', 'accept', 'decline'])
    expect(answers[2]).toMatchObject({ reason: 'busy' })
    expect((answers[2] as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0)
  })

  it('declines a chat when it has no model', async () => {
    const spec = TaskSpec.parse({ kind: 'chat', messages: [{ role: 'user', content: 'hi' }] })
    const { io, next } = await rawStream(submitter.host, executor)
    await io.send({ type: 'offer', offer: await signOffer(offerBody({ spec }), submitter.key) })
    expect(await next()).toMatchObject({ type: 'decline', reason: 'no-model', message: 'no model here' })
  })

  it('serves the protocol it registered', async () => {
    await submitter.host.dial(executor.host.getMultiaddrs())
    const protocols = await submitter.host.peerStore.get(executor.host.peerId).then((p) => p.protocols)
    expect(protocols).toContain(TASK_PROTOCOL)
  })
})

async function waitUntil(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}
