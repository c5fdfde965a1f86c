/** Reads a streamed body as newline-delimited JSON, one parsed value per line. */
export async function* readNdjson(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<unknown> {
  const decoder = new TextDecoder()
  let buf = ''
  const reader = body.getReader()
  const cancel = () => void reader.cancel().catch(() => {})
  signal?.addEventListener('abort', cancel, { once: true })
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buf += decoder.decode(value, { stream: true })
      let nl = buf.indexOf('\n')
      while (nl !== -1) {
        const line = buf.slice(0, nl).trim()
        buf = buf.slice(nl + 1)
        if (line) yield JSON.parse(line)
        nl = buf.indexOf('\n')
      }
    }
    const rest = (buf + decoder.decode()).trim()
    if (rest) yield JSON.parse(rest)
  } finally {
    signal?.removeEventListener('abort', cancel)
    reader.releaseLock()
  }
}
