/**
 * A panel's own subscription to the agent's `GET /events`, for the event types it follows.
 * `reset` is called on every (re)open: the browser resumes with `Last-Event-ID`, but when the
 * agent no longer holds what was missed it greets with a fresh `hello`, and the panel reloads.
 */
export function followNodeEvents(
  url: string,
  types: readonly string[],
  on: (type: string, data: unknown) => void,
  reset: () => void,
): () => void {
  const source = new EventSource(url)
  source.addEventListener('hello', () => reset())
  for (const type of types)
    source.addEventListener(type, (e: MessageEvent<string>) => {
      let data: unknown
      try {
        data = JSON.parse(e.data)
      } catch {
        return // a malformed message is dropped; the next reset corrects the view
      }
      on(type, data)
    })
  return () => source.close()
}
