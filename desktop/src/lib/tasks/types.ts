/** The task routes' bodies as the Task Queue panel reads them (see docs/tasks.md, docs/routing.md). */

export type TaskStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'
export type TaskKind = 'code' | 'run' | 'chat'

export interface TestReport {
  ok: boolean
  outcome: string
  passed: number
  failed: number
  total: number
  output: string
  error?: string
  durationMs: number
}

/** One step of a task's route: a choice of executor, an answer, a loss. */
export interface RouteHop {
  at: string
  attempt: number
  peerId: string
  local: boolean
  via: string | null
  event: 'chosen' | 'accepted' | 'declined' | 'lost' | 'stalled' | 'completed' | 'failed' | 'cancelled'
  reasons: string[]
  score: number | null
}

export interface TaskRecord {
  id: string
  kind: TaskKind
  submitter: string
  priority: 'low' | 'normal' | 'high'
  status: TaskStatus
  spec: Record<string, unknown> & { kind: TaskKind }
  result: {
    code: string | null
    report: TestReport | null
    text: string | null
    model: string | null
    tokens: { prompt: number; completion: number }
    attempts: { n: number; report: TestReport; failure?: string }[]
  } | null
  error: { code: string; message: string } | null
  runs: number
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  updatedAt: string
  executor: { peerId: string; local: boolean; attempt: number; taskId: string | null } | null
  route: RouteHop[]
  origin: { peerId: string; taskId: string; attempt: number } | null
}

export interface TaskList {
  tasks: TaskRecord[]
  nextCursor: string | null
}

/** One event of `GET /tasks/:id/events`. */
export interface TaskEvent {
  taskId: string
  seq: number
  type: 'queued' | 'routed' | 'started' | 'token' | 'attempt' | 'test-result' | 'done'
  at: string
  data: Record<string, unknown>
}

export const FINAL: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled']
