import type { FastifyReply, FastifyRequest } from 'fastify'

/** An open server-sent-events stream. */
export interface SseStream {
  send(event: string, data: unknown, id?: string): void
  close(): void
  readonly closed: boolean
  onClose(fn: () => void): void
}

/** Takes over the reply and turns it into an SSE stream with a keep-alive comment every 15 s. */
export function openSse(req: FastifyRequest, reply: FastifyReply): SseStream {
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
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000)
  const finish = () => {
    if (closed) return
    closed = true
    clearInterval(keepAlive)
    for (const fn of closers) fn()
  }
  req.raw.on('close', finish)
  res.on('close', finish)
  return {
    send(event, data, id) {
      if (closed) return
      res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
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
