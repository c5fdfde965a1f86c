import type { FastifyReply, FastifyRequest } from 'fastify'
import { ApiError } from './errors.ts'

/**
 * Bytes a stream may have waiting in the agent for a client that does not read (beyond what
 * the kernel's socket buffers hold). A client further behind is dropped: it reconnects with
 * `Last-Event-ID` or gets a fresh snapshot, while the agent's memory stays bounded.
 */
export const MAX_BUFFERED_BYTES = 64 * 1024
/** Streams open at once, all SSE routes together; one more is answered 503. */
export const MAX_SSE_CLIENTS = 256

let openStreams = 0

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
  const write = (text: string): void => {
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      // Behind by more than the bound: drop it rather than buffer without end.
      res.destroy()
      finish()
      return
    }
    res.write(text)
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
      write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
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
