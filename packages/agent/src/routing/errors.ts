import type { DeclineReason } from '@edgecoder/protocol'
import { InferenceError } from '../inference/index.ts'

/** The executor answered the offer with a decline; `retryAfterMs` when it said how long to wait. */
export class OfferDeclinedError extends Error {
  override name = 'OfferDeclinedError'
  readonly reason: DeclineReason
  readonly retryAfterMs: number | null

  constructor(reason: DeclineReason, message: string, retryAfterMs: number | null = null) {
    super(message)
    this.reason = reason
    this.retryAfterMs = retryAfterMs
  }
}

/** The executor could not be reached, or the stream to it ended before the result. */
export class ExecutorLostError extends Error {
  override name = 'ExecutorLostError'
}

/** The executor fell silent: no heartbeat for longer than the submitter waits. */
export class ExecutorStalledError extends Error {
  override name = 'ExecutorStalledError'
}

/** The peer on the other end sent a frame the protocol does not allow here. */
export class TaskProtocolError extends Error {
  override name = 'TaskProtocolError'
}

/** A peer could not serve a chat; `code` is the peer's, or `no_executor` when none could be reached. */
export class RemoteInferenceError extends InferenceError {
  override name = 'RemoteInferenceError'
  override readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}
