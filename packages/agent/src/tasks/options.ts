import type { CodeLoopOptions } from './code-loop.ts'

/** How the task engine runs; `TASK_ENGINE_DEFAULTS` fills in what is not given. */
export interface TaskEngineOptions {
  /** False on a coordinator: tasks never run here; they wait for routing to place them on a peer. */
  executes: boolean
  /** False on a worker: the local API may not submit. */
  acceptsLocal: boolean
  /** False where the sandbox lacks OS confinement: peers' `run` and `code` tasks are declined. */
  acceptsPeerCode: boolean
  /** Tasks that may wait at once; one more is refused with a retry hint. */
  maxQueued: number
  /** How long a cancelled task may take to let go of the model and sandbox before it is marked cancelled anyway. */
  cancelGraceMs: number
  /** Runs a task may have before it is failed for want of an executor that finishes it. */
  maxRuns: number
  codeLoop: Partial<CodeLoopOptions>
}

export const TASK_ENGINE_DEFAULTS: TaskEngineOptions = {
  executes: true,
  acceptsLocal: true,
  acceptsPeerCode: true,
  maxQueued: 1_000,
  cancelGraceMs: 5_000,
  maxRuns: 8,
  codeLoop: {},
}
