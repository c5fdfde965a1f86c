import type { TaskAttempt, TaskError, TaskResult, TestReport } from '@edgecoder/protocol'

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
