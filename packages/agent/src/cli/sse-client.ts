import { ClientError, type ClientOptions, request } from './client.ts'

/** One server-sent event as the CLI sees it. */
export interface SseMessage {
  event: string
  id: string | null
  data: string
}

/**
 * Reads an SSE stream from the agent, yielding each event until the server ends the stream.
 * `lastEventId` resumes after a dropped connection.
 */
export async function* readEvents(
  opts: ClientOptions,
  path: string,
  signal: AbortSignal,
  lastEventId?: string,
): AsyncGenerator<SseMessage> {
  const headers: Record<string, string> = { accept: 'text/event-stream' }
  if (lastEventId) headers['last-event-id'] = lastEventId
  const res = await request(opts, 'GET', path, undefined, { signal, headers })
  if (!res.body) throw new ClientError(`the agent sent no event stream for ${path}`)
  const decoder = new TextDecoder()
  let buf = ''
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk, { stream: true })
    for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
      const block = buf.slice(0, end)
      buf = buf.slice(end + 2)
      const msg: SseMessage = { event: 'message', id: null, data: '' }
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') msg.event = value
        else if (field === 'id') msg.id = value
        else if (field === 'data') data.push(value)
      }
      if (data.length === 0) continue
      msg.data = data.join('\n')
      yield msg
    }
  }
}
