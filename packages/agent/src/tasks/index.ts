export { CODE_LOOP_DEFAULTS, CodeLoop, type CodeLoopOptions } from './code-loop.ts'
export { completePrefix, type PrefixRepair } from './complete-prefix.ts'
export {
  AdoptionRefusedError,
  EngineStoppingError,
  InvalidTransitionError,
  NoModelError,
  QueueFullError,
  SubmissionRefusedError,
  TaskCancelledError,
  TaskDeclinedError,
  TaskDisplacedError,
  TaskFinishedError,
  TaskNotFoundError,
} from './errors.ts'
export { NO_MODEL_MESSAGE, progressEvents, TaskExecutor } from './executor.ts'
export { extractCode, testedNames } from './extract-code.ts'
export { FairShareQueue, type QueueEntry } from './fair-share-queue.ts'
export { emptyResult, type TaskOutcome, type TaskProgress } from './outcome.ts'
export type {
  ModelReply,
  ModelRequest,
  Placement,
  RemoteRun,
  SandboxRequest,
  TaskModel,
  TaskRouter,
  TaskSandbox,
} from './ports.ts'
export {
  TASK_ENGINE_DEFAULTS,
  TaskEngine,
  type TaskEngineModules,
  type TaskEngineOptions,
} from './task-engine.ts'
export { TaskEventLog } from './task-events.ts'
export { type TaskCounts, TaskStore } from './task-store.ts'
