/** `run()` was called before `start()` or after `stop()`. */
export class SandboxNotStartedError extends Error {
  override name = 'SandboxNotStartedError'
  constructor() {
    super('the sandbox pool is not started')
  }
}

/** The pool stopped while the run was queued or running. */
export class SandboxStoppedError extends Error {
  override name = 'SandboxStoppedError'
  constructor() {
    super('the sandbox pool was stopped')
  }
}

/** The request itself is unusable (unknown language, code not a string, bad deadline). */
export class SandboxRequestError extends Error {
  override name = 'SandboxRequestError'
}

/** A worker could not load its interpreter. */
export class SandboxStartError extends Error {
  override name = 'SandboxStartError'
}
