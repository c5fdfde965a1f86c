import type { TaskRecord } from '@edgecoder/protocol'
import { CodeLoop, type CodeLoopOptions } from './code-loop.ts'
import { NoModelError } from './errors.ts'
import type { TaskOutcome, TaskProgress } from './outcome.ts'
import type { TaskModel, TaskSandbox } from './ports.ts'
import { runChat, runEmbed, runInSandbox } from './runners.ts'
import type { TaskEventLog } from './task-events.ts'

export const NO_MODEL_MESSAGE =
  'no model is loaded on this node: start the agent with --model <path to a .gguf file> (or EDGECODER_MODEL); run tasks work without one'

/** Runs one task of any kind with what this node has: the sandbox always, the model when given. */
export class TaskExecutor {
  readonly #sandbox: TaskSandbox
  readonly #model: TaskModel | null
  readonly #loop: CodeLoop | null

  constructor(opts: Partial<CodeLoopOptions>, modules: { sandbox: TaskSandbox; model: TaskModel | null }) {
    this.#sandbox = modules.sandbox
    this.#model = modules.model
    this.#loop = modules.model ? new CodeLoop(opts, { model: modules.model, sandbox: modules.sandbox }) : null
  }

  async execute(task: TaskRecord, progress: TaskProgress, signal: AbortSignal): Promise<TaskOutcome> {
    const spec = task.spec
    switch (spec.kind) {
      case 'run':
        return runInSandbox(spec, this.#sandbox, progress, signal)
      case 'code':
        if (!this.#loop) throw new NoModelError(NO_MODEL_MESSAGE)
        return this.#loop.run(spec, progress, signal)
      case 'chat':
        if (!this.#model) throw new NoModelError(NO_MODEL_MESSAGE)
        return runChat(spec, this.#model, progress, signal)
      case 'embed':
        if (!this.#model) throw new NoModelError(NO_MODEL_MESSAGE)
        return runEmbed(spec, this.#model, signal)
    }
  }
}

/** Turns a runner's progress into the task's events (`token`, `attempt`, `test-result`, `routed`). */
export function progressEvents(events: TaskEventLog, task: TaskRecord): TaskProgress {
  const run = task.runs
  return {
    token: (text, phase, attempt) => events.record(task.id, 'token', { text, phase, attempt }),
    attempt: (a) => events.record(task.id, 'attempt', { run, ...a }),
    testResult: (attempt, report) => events.record(task.id, 'test-result', { run, attempt, ...report }),
    routed: (hop, executor) => events.hop(task.id, hop, executor),
  }
}
