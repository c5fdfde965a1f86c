/** The queue holds as many tasks as it may: the submitter should come back after `retryAfterSec`. */
export class QueueFullError extends Error {
  override name = 'QueueFullError'
  readonly retryAfterSec: number

  constructor(message: string, retryAfterSec: number) {
    super(message)
    this.retryAfterSec = retryAfterSec
  }
}

/** No task has this id. */
export class TaskNotFoundError extends Error {
  override name = 'TaskNotFoundError'
}

/** The task already reached a final status; it can't be cancelled or moved any more. */
export class TaskFinishedError extends Error {
  override name = 'TaskFinishedError'
}

/** A status change the lifecycle does not allow (e.g. `succeeded → running`). */
export class InvalidTransitionError extends Error {
  override name = 'InvalidTransitionError'
}

/** This node does not take tasks from its local API (worker mode). */
export class SubmissionRefusedError extends Error {
  override name = 'SubmissionRefusedError'
}

/** A `code` or `chat` task reached a node that has no model to run it. */
export class NoModelError extends Error {
  override name = 'NoModelError'
}

/** The node is stopping: the running task goes back to the queue instead of failing. */
export class EngineStoppingError extends Error {
  override name = 'EngineStoppingError'
}

/** The submitter cancelled the task. */
export class TaskCancelledError extends Error {
  override name = 'TaskCancelledError'
}

/**
 * The task left its executor without a verdict (the peer declined it, died or stalled): it goes
 * back to the front of the queue and is placed again. `cause` says what happened.
 */
export class TaskDisplacedError extends Error {
  override name = 'TaskDisplacedError'
}

/**
 * The peer had no room for the task now (busy, paused, stopping): nothing ran, so the attempt
 * doesn't count against the task's runs. Under load a task waits for room; it never fails for it.
 */
export class TaskDeclinedError extends TaskDisplacedError {
  override name = 'TaskDeclinedError'
}

/** A peer's task this node can't take now; `reason` is the decline the peer gets. */
export class AdoptionRefusedError extends Error {
  override name = 'AdoptionRefusedError'
  readonly reason: 'busy' | 'paused' | 'stopping' | 'not-worker'
  readonly retryAfterMs: number | null

  constructor(reason: AdoptionRefusedError['reason'], message: string, retryAfterMs: number | null = null) {
    super(message)
    this.reason = reason
    this.retryAfterMs = retryAfterMs
  }
}
