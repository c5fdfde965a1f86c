import type { FastifyReply, FastifyRequest } from 'fastify'
import { ApiError } from './errors.ts'

/**
 * Bytes a stream may have waiting in the agent for a client that does not read (beyond what
 * the kernel's socket buffers hold). A client further behind is dropped: it reconnects with
 * `Last-Event-ID` or gets a fresh snapshot. Every stream queues the same encoded buffers, so
 * what waits for all clients together is about one such backlog, not one per client.
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024
/**
 * Events a stream may have written since its buffer was last empty. Each costs the agent more
 * than its bytes (the writes of its chunked frame), so a client behind on many small events is
 * dropped too; a token stream's bursts stay well within it.
 */
export const MAX_PENDING_EVENTS = 256
/** Streams open at once, all SSE routes together; one more is answered 503. */
export const MAX_SSE_CLIENTS = 256

let openStreams = 0

/**
 * An event's `data:` lines, encoded once however many streams send it (each stream is handed the
 * same event object) and written as that one buffer to all of them, not copied per client.
 */
const encodedOnce = new WeakMap<object, Buffer>()
function dataLines(data: unknown): Buffer {
  const encode = () => Buffer.from(`data: ${JSON.stringify(data)}\n\n`)
  if (typeof data !== 'object' || data === null) return encode()
  let bytes = encodedOnce.get(data)
  if (bytes === undefined) {
    bytes = encode()
    encodedOnce.set(data, bytes)
  }
  return bytes
}

/**
 * What one stream has waiting in the agent, judged at each write: the bytes Node still buffers
 * for it and the events written since its buffer was last empty. `admit` says whether one more
 * write keeps the stream within both bounds.
 */
export class Backlog {
  #events = 0

  admit(writableLength: number, bytes: number, event: boolean): boolean {
    // Nothing waits: the client has read everything so far (or the kernel holds it).
    if (writableLength === 0) {
      this.#events = event ? 1 : 0
      return true
    }
    if (event) this.#events++
    return writableLength + bytes <= MAX_BUFFERED_BYTES && this.#events <= MAX_PENDING_EVENTS
  }
}

/** Streams open now, all routes together. */
export function sseClients(): number {
  return openStreams
}

/** An open server-sent-events stream. */
export interface SseStream {
  send(event: string, data: unknown, id?: string): void
  close(): void
  readonly closed: boolean
  onClose(fn: () => void): void
}

/**
 * Takes over the reply and turns it into an SSE stream with a keep-alive comment every 15 s.
 * @throws ApiError 503 when `maxClients` streams are open already
 */
export function openSse(req: FastifyRequest, reply: FastifyReply, maxClients = MAX_SSE_CLIENTS): SseStream {
  if (openStreams >= maxClients) {
    reply.header('retry-after', '5')
    throw new ApiError(
      503,
      'too_many_streams',
      `${openStreams} event streams are open, the most this agent serves`,
    )
  }
  openStreams++
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  res.write(': edgecoder\n\n')
  let closed = false
  const closers: (() => void)[] = []
  const backlog = new Backlog()
  const write = (head: string, body?: Buffer, event = false): void => {
    if (!backlog.admit(res.writableLength, head.length + (body?.length ?? 0), event)) {
      // Behind by more than the bound: drop it rather than buffer without end.
      res.destroy()
      finish()
      return
    }
    res.write(head)
    if (body) res.write(body)
  }
  const keepAlive = setInterval(() => write(': keep-alive\n\n'), 15_000)
  const finish = () => {
    if (closed) return
    closed = true
    openStreams--
    clearInterval(keepAlive)
    for (const fn of closers) fn()
  }
  req.raw.on('close', finish)
  res.on('close', finish)
  return {
    send(event, data, id) {
      if (closed) return
      write(`${id ? `id: ${id}\n` : ''}event: ${event}\n`, dataLines(data), true)
    },
    close() {
      if (!closed) res.end()
      finish()
    },
    get closed() {
      return closed
    },
    onClose(fn) {
      closers.push(fn)
    },
  }
}
