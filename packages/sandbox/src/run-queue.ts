import { cancelledBeforeStart } from './runner/report.ts'
import type { SandboxLanguage, SandboxReport, SandboxRequest } from './types.ts'

/** A run waiting for its language's runner: in-process worker threads or a sandbox process. */
export interface QueuedRun {
  request: SandboxRequest
  deadlineMs: number
  signal?: AbortSignal
  resolve: (report: SandboxReport) => void
  reject: (error: Error) => void
  /** Stops listening to the run's signal once it has left the queue. */
  detach: () => void
}

/**
 * Puts a checked request at the back of its language's queue and returns its report's promise.
 * Aborted while still queued, it leaves the queue and reports `cancelled`; aborted before, it
 * never enters. The caller dispatches.
 */
export function enqueueRun(
  queues: Map<SandboxLanguage, QueuedRun[]>,
  request: SandboxRequest,
  defaultDeadlineMs: number,
  signal?: AbortSignal,
): Promise<SandboxReport> {
  if (signal?.aborted) return Promise.resolve(cancelledBeforeStart(request.language))
  const { promise, resolve, reject } = Promise.withResolvers<SandboxReport>()
  const queue = queues.get(request.language)!
  const onAbort = (): void => {
    const at = queue.indexOf(run)
    if (at === -1) return
    queue.splice(at, 1)
    resolve(cancelledBeforeStart(request.language))
  }
  const run: QueuedRun = {
    request,
    deadlineMs: request.deadlineMs ?? defaultDeadlineMs,
    signal,
    resolve,
    reject,
    detach: () => signal?.removeEventListener('abort', onAbort),
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  queue.push(run)
  return promise
}
