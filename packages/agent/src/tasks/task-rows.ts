import type { TaskRecord, TaskStatus } from '@edgecoder/protocol'
import type { Migrations } from '../store/index.ts'

/** The task tables. Step 2 adds where a task ran, its route, and (on an executor) whose task it is. */
export const TASK_MIGRATIONS: Migrations = {
  module: 'tasks',
  steps: [
    `CREATE TABLE tasks (
       seq INTEGER PRIMARY KEY AUTOINCREMENT,
       id TEXT NOT NULL UNIQUE,
       kind TEXT NOT NULL,
       submitter TEXT NOT NULL,
       priority TEXT NOT NULL,
       status TEXT NOT NULL,
       spec TEXT NOT NULL,
       result TEXT,
       error TEXT,
       runs INTEGER NOT NULL DEFAULT 0,
       created_at TEXT NOT NULL,
       started_at TEXT,
       finished_at TEXT,
       updated_at TEXT NOT NULL
     );
     CREATE INDEX tasks_by_status ON tasks (status, seq);
     CREATE INDEX tasks_by_submitter ON tasks (submitter, seq);
     CREATE TABLE task_events (
       task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
       seq INTEGER NOT NULL,
       type TEXT NOT NULL,
       at TEXT NOT NULL,
       data TEXT NOT NULL,
       PRIMARY KEY (task_id, seq)
     ) WITHOUT ROWID;`,
    `ALTER TABLE tasks ADD COLUMN executor TEXT;
     ALTER TABLE tasks ADD COLUMN route TEXT NOT NULL DEFAULT '[]';
     ALTER TABLE tasks ADD COLUMN origin_peer TEXT;
     ALTER TABLE tasks ADD COLUMN origin_task TEXT;
     ALTER TABLE tasks ADD COLUMN origin_attempt INTEGER;
     CREATE UNIQUE INDEX tasks_by_origin ON tasks (origin_peer, origin_task, origin_attempt)
       WHERE origin_peer IS NOT NULL;`,
  ],
}

export interface TaskRow {
  seq: number
  id: string
  kind: TaskRecord['kind']
  submitter: string
  priority: TaskRecord['priority']
  status: TaskStatus
  spec: string
  result: string | null
  error: string | null
  runs: number
  created_at: string
  started_at: string | null
  finished_at: string | null
  updated_at: string
  executor: string | null
  route: string
  origin_peer: string | null
  origin_task: string | null
  origin_attempt: number | null
}

export function toRecord(r: TaskRow): TaskRecord {
  return {
    id: r.id,
    kind: r.kind,
    submitter: r.submitter,
    priority: r.priority,
    status: r.status,
    spec: JSON.parse(r.spec),
    result: r.result === null ? null : JSON.parse(r.result),
    error: r.error === null ? null : JSON.parse(r.error),
    runs: r.runs,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
    executor: r.executor === null ? null : JSON.parse(r.executor),
    route: JSON.parse(r.route),
    origin:
      r.origin_peer === null
        ? null
        : { peerId: r.origin_peer, taskId: r.origin_task ?? '', attempt: r.origin_attempt ?? 1 },
  }
}
