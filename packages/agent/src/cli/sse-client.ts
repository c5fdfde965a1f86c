import { ClientError, type ClientOptions } from './client.ts'

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
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  if (lastEventId) headers['last-event-id'] = lastEventId
  let res: Response
  try {
    res = await fetch(opts.apiUrl + path, { headers, signal })
  } catch (err) {
    if (signal.aborted) throw err
    throw new ClientError(`cannot reach the agent at ${opts.apiUrl}: ${(err as Error).message}`)
  }
  if (!res.ok || !res.body) {
    const text = await res.text()
    let message = text
    try {
      const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error
      message = `${e?.code ?? ''}: ${e?.message ?? text}`
    } catch {}
    throw new ClientError(`${res.status} ${message}`.trim())
  }
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
