import type {
  RouteHop,
  TaskAttempt,
  TaskError,
  TaskExecutorRef,
  TaskRecord,
  TaskResult,
  TestReport,
} from '@edgecoder/protocol'
import { NoModelError } from './errors.ts'

/** What running a task produced; the engine adds the queue and run durations. */
export interface TaskOutcome {
  status: 'succeeded' | 'failed'
  error: TaskError | null
  result: Omit<TaskResult, 'durations'>
  modelMs: number
  sandboxMs: number
}

/** Live progress a runner reports while it works; the engine turns each into a task event. */
export interface TaskProgress {
  token(text: string, phase: 'plan' | 'code' | 'chat', attempt: number | null): void
  attempt(a: Omit<TaskAttempt, 'report' | 'sandboxMs'>): void
  testResult(attempt: number | null, report: TestReport): void
  /** A step of the task's route; `executor` when the task now runs there. */
  routed(hop: RouteHop, executor?: TaskExecutorRef): void
}

export function emptyResult(): Omit<TaskResult, 'durations'> {
  return {
    code: null,
    report: null,
    attempts: [],
    plan: null,
    text: null,
    finishReason: null,
    model: null,
    tokens: { prompt: 0, completion: 0 },
  }
}

/** A sandbox verdict that counts as success: the tests ran and none failed. */
export function passed(report: TestReport): boolean {
  return report.outcome === 'passed' && report.failed === 0
}

export function cancelledError(): TaskError {
  return { code: 'cancelled', message: 'cancelled by the submitter' }
}

/** The `done` event: the verdict and its numbers; the whole result is at `GET /tasks/:id`. */
export function doneData(t: TaskRecord): Record<string, unknown> {
  const r = t.result
  return {
    status: t.status,
    error: t.error,
    report: r?.report
      ? { outcome: r.report.outcome, passed: r.report.passed, failed: r.report.failed, total: r.report.total }
      : null,
    attempts: r?.attempts.length ?? 0,
    tokens: r?.tokens ?? null,
    durations: r?.durations ?? null,
  }
}

/**
 * Why a run that threw failed. A missing model is the operator's to fix, and says how; an
 * inference error keeps its stable code (`context_overflow`, ...); anything else is unexpected.
 */
export function failureOf(reason: unknown): TaskError {
  if (reason instanceof NoModelError) return { code: 'no_model', message: reason.message }
  const err = reason instanceof Error ? reason : new Error(String(reason))
  const code = (err as { code?: unknown }).code
  if (code === 'model_not_found')
    return {
      code: 'no_model',
      message: `${err.message}: start the agent with --model <path to a .gguf file>`,
    }
  if (typeof code === 'string' && /^[a-z_]+$/.test(code)) return { code, message: err.message }
  return { code: 'execution_failed', message: `${err.name}: ${err.message}` }
}
