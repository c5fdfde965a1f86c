import { connect, type Socket } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ApiError } from '../../src/api/errors.ts'
import {
  Backlog,
  MAX_BUFFERED_BYTES,
  MAX_PENDING_EVENTS,
  openSse,
  type SseStream,
  sseClients,
} from '../../src/api/sse.ts'

/** A server whose `/events` streams the test drives itself, at most `cap` at once. */
async function eventServer(cap: number) {
  const app: FastifyInstance = Fastify()
  const waiting: ((s: SseStream) => void)[] = []
  const closed: Promise<void>[] = []
  app.setErrorHandler((err, _req, reply) => {
    const e = err as ApiError
    reply.status(e.statusCode).send({ error: { code: e.code, message: e.message } })
  })
  app.get('/events', (req, reply) => {
    const stream = openSse(req, reply, cap)
    closed.push(new Promise((r) => stream.onClose(r)))
    waiting.shift()?.(stream)
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return {
    app,
    url: `http://127.0.0.1:${port}/events`,
    port,
    /** The server side of the next stream that opens. */
    nextStream: () => new Promise<SseStream>((r) => waiting.push(r)),
    /** Resolves once every stream it opened has closed (and given its place back). */
    allClosed: () => Promise.all(closed),
  }
}

/** Reads a stream as fast as it comes, counting the events it carried. */
function reader(url: string) {
  let events = 0
  let changed: (() => void) | undefined
  const ctrl = new AbortController()
  const done = (async () => {
    const res = await fetch(url, { signal: ctrl.signal })
    let text = ''
    for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
      text += chunk
      const blocks = text.split('\n\n')
      text = blocks.pop()!
      events += blocks.filter((b) => /^event: /m.test(b)).length
      changed?.()
    }
  })().catch(() => {})
  return {
    get events() {
      return events
    },
    /** Resolves once `n` events have arrived. */
    async until(n: number) {
      while (events < n) await new Promise<void>((r) => (changed = r))
    },
    stop: () => ctrl.abort(),
    done,
  }
}

let server: Awaited<ReturnType<typeof eventServer>>
const sockets: Socket[] = []
beforeEach(async () => {
  server = await eventServer(2)
})
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  server.app.server.closeAllConnections()
  await server.allClosed()
  await server.app.close()
})

/** Opens the stream and never reads a byte of the answer. */
function stalled(): Socket {
  const socket = connect(server.port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`)
  socket.pause()
  sockets.push(socket)
  return socket
}

describe('SSE streams and slow clients', () => {
  it('drops a client that stops reading once more than 1 MiB waits for it, and keeps one that reads', async () => {
    const stalledSide = server.nextStream()
    stalled()
    const slow = await stalledSide
    const fastSide = server.nextStream()
    const fast = reader(server.url)
    const quick = await fastSide
    let dropped = false
    slow.onClose(() => (dropped = true))
    const payload = { text: 'x'.repeat(64 * 1024) }
    // Each event goes to both; the next one only once the reading client has this one, so the
    // reader is never behind by more than one event. The socket buffers of the kernel take some
    // megabytes of the stalled stream before anything waits in the agent: the bound is far above.
    const limit = (64 * 2 ** 20) / (64 * 1024)
    let sent = 0
    while (!slow.closed && sent < limit) {
      sent++
      slow.send('big', payload, String(sent))
      quick.send('big', payload, String(sent))
      await fast.until(sent)
    }
    expect(slow.closed, `still open after ${sent} events of 64 KiB`).toBe(true)
    expect(dropped).toBe(true)
    // Dropped past the bound, not at the first byte the kernel could not take.
    expect(sent * 64 * 1024).toBeGreaterThan(MAX_BUFFERED_BYTES)
    expect(quick.closed).toBe(false)
    expect(sseClients()).toBe(1)
    quick.send('after', { n: 1 })
    await fast.until(sent + 1)
    fast.stop()
  })

  it('answers one stream beyond the cap with 503 too_many_streams and Retry-After', async () => {
    const first = server.nextStream()
    stalled()
    await first
    const second = server.nextStream()
    stalled()
    await second
    const res = await fetch(server.url)
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('5')
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('too_many_streams')
  })

  it('frees its place when the client goes away', async () => {
    const opened = server.nextStream()
    const socket = stalled()
    const stream = await opened
    const gone = new Promise<void>((r) => stream.onClose(r))
    socket.destroy()
    await gone
    expect(stream.closed).toBe(true)
    expect(sseClients()).toBe(0)
  })
})

describe('the backlog of one stream', () => {
  it('counts the events written while something waits, and forgets them once the buffer is empty', () => {
    const backlog = new Backlog()
    expect(backlog.admit(0, 100, true)).toBe(true)
    for (let i = 2; i <= MAX_PENDING_EVENTS; i++)
      expect(backlog.admit(100 * i, 100, true), `event ${i}`).toBe(true)
    // One event more than the bound while the client still has not read: refused.
    expect(backlog.admit(100 * MAX_PENDING_EVENTS, 100, true)).toBe(false)
    // Keep-alive comments are not events, but the byte bound still holds for them.
    const other = new Backlog()
    expect(other.admit(10, 20, false)).toBe(true)
    expect(other.admit(MAX_BUFFERED_BYTES - 10, 20, false)).toBe(false)
    // A client that caught up starts again from nothing.
    const caughtUp = new Backlog()
    for (let i = 1; i <= MAX_PENDING_EVENTS; i++) caughtUp.admit(1, 100, true)
    expect(caughtUp.admit(0, 100, true)).toBe(true)
    expect(caughtUp.admit(1, 100, true)).toBe(true)
  })

  it('refuses a write that would take the waiting bytes past 1 MiB, whatever the count', () => {
    const backlog = new Backlog()
    expect(backlog.admit(MAX_BUFFERED_BYTES - 1000, 1000, true)).toBe(true)
    expect(backlog.admit(MAX_BUFFERED_BYTES - 1000, 1001, true)).toBe(false)
  })
})
