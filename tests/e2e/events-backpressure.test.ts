import { connect, type Socket } from 'node:net'
import type { RuntimeHealth } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_BUFFERED_BYTES, MAX_SSE_CLIENTS } from '../../packages/agent/src/api/sse.ts'
import { type AgentProcess, cleanupAgents, startAgent, waitFor } from './harness.ts'
import { submitOk, waitForStatus } from './tasks-helpers.ts'

/** Reads `/events` as fast as it comes, counting events by type. */
function fastClient(agent: AgentProcess, headers: Record<string, string> = {}) {
  const counts = new Map<string, number>()
  const ids: string[] = []
  const controller = new AbortController()
  const done = (async () => {
    const res = await agent.api('/events', { signal: controller.signal, headers })
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buffered = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffered += value
      const blocks = buffered.split('\n\n')
      buffered = blocks.pop()!
      for (const block of blocks) {
        const type = /^event: (.+)$/m.exec(block)?.[1]
        const id = /^id: (.+)$/m.exec(block)?.[1]
        if (type) counts.set(type, (counts.get(type) ?? 0) + 1)
        if (id) ids.push(id)
      }
    }
  })().catch(() => {})
  return { counts, ids, stop: () => controller.abort(), done }
}

/** Opens `/events` and never reads a byte of the answer. */
function stalledClient(agent: AgentProcess): Socket {
  const url = new URL(agent.ready.apiUrl)
  const socket = connect(Number(url.port), url.hostname)
  socket.on('error', () => {})
  socket.write(`GET /events HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`)
  socket.pause()
  return socket
}

const runtime = async (a: AgentProcess) => (await (await a.api('/health/runtime')).json()) as RuntimeHealth
const rss = async (a: AgentProcess) => (await runtime(a)).agentRssBytes!

let agent: AgentProcess
beforeAll(async () => {
  agent = await startAgent({ args: ['--max-concurrent-tasks', '2'] })
})
afterAll(cleanupAgents)

describe('/events under slow clients', () => {
  it('drops 300 stalled clients as they fall behind, keeps memory bounded, and fast clients keep receiving', async () => {
    const printer = { kind: 'run', language: 'javascript', code: "print('x'.repeat(60000))" } as const
    // Enough that each stalled client falls behind by more than the kernel's socket buffers hold
    // (up to 4 MiB sent and 128 KiB received for a client that never reads) plus the agent’s 1 MiB.
    const tasks = 160
    const workload = async () => {
      const ids: string[] = []
      for (let i = 0; i < tasks; i++) ids.push(await submitOk(agent, printer))
      for (const id of ids) await waitForStatus(agent, id, undefined, 120_000)
    }
    const fast = [fastClient(agent), fastClient(agent)]
    await waitFor(() => fast.every((c) => (c.counts.get('hello') ?? 0) > 0), 10_000, 20)
    // The same workload first with fast clients only: the agent's heap settles at its working size.
    await workload()
    const before = await rss(agent)

    const stalled = Array.from({ length: 300 }, () => stalledClient(agent))
    // The cap: once the stalled clients fill it, one more stream is a clear 503. (Probing while
    // they still connect would itself take the last place and let a stalled one be refused.)
    await waitFor(async () => (await runtime(agent)).eventStreams === MAX_SSE_CLIENTS, 60_000, 50)
    const refused = await agent.api('/events')
    expect(refused!.status).toBe(503)
    expect(refused!.headers.get('retry-after')).toBe('5')
    expect(((await refused!.json()) as { error: { code: string } }).error.code).toBe('too_many_streams')

    await workload()
    const after = await rss(agent)
    // Each task sent every client 60 KB: unbounded, the stalled streams would hold up to
    // 256 × 160 × 60 KB (2.4 GB). Bounded, no stream holds more than MAX_BUFFERED_BYTES, so all
    // of them together at most MAX_SSE_CLIENTS × that (256 MiB) at any moment; what is left once
    // they are dropped is V8 growing its heap under the churn of their writes (measured 84 to
    // 133 MiB, garbage rather than held state). The design's bound is what is asserted.
    const bound = (MAX_SSE_CLIENTS * MAX_BUFFERED_BYTES) / 2 ** 20
    expect((after - before) / 2 ** 20, `agent RSS ${before} -> ${after}`).toBeLessThan(bound)
    for (const c of fast) await waitFor(() => (c.counts.get('task-done') ?? 0) >= 2 * tasks, 30_000, 50)

    // The stalled ones were dropped: only the fast clients' streams are left.
    await waitFor(async () => (await runtime(agent)).eventStreams === fast.length, 30_000, 100)
    const res = await agent.api('/events')
    expect(res.status).toBe(200)
    await res.body?.cancel()

    // A dropped client that comes back with Last-Event-ID gets what it missed after that id.
    const lastSeen = fast[0]!.ids.at(-5)!
    const back = fastClient(agent, { 'last-event-id': lastSeen })
    await waitFor(() => back.ids.length >= 4, 10_000, 20)
    expect(Number(back.ids[0])).toBe(Number(lastSeen) + 1)
    expect(back.counts.get('hello')).toBeUndefined()
    for (const c of [...fast, back]) c.stop()
    for (const s of stalled) s.destroy()
  }, 300_000)
})
