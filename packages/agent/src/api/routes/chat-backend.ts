export type { ChatBackend } from '../../inference/index.ts'

/** Aborts when the HTTP client goes away, so generation stops with it. */
export function clientGone(
  raw: import('node:http').IncomingMessage,
  res: import('node:http').ServerResponse,
): AbortSignal {
  const ctrl = new AbortController()
  // The request's own 'close' fires once its body is read; the response's tells that the client left.
  const abort = () => {
    if (!res.writableFinished) ctrl.abort(new Error('client disconnected'))
  }
  void raw
  res.on('close', abort)
  return ctrl.signal
}
