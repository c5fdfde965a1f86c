import { DatabaseSync } from 'node:sqlite'

/** A module's schema history: version N is `steps[N-1]`. Append, never edit a shipped step. */
export interface Migrations {
  module: string
  steps: string[]
}

/** The node's SQLite store: one file in the data dir, WAL, versioned migrations per module. */
export class Store {
  readonly db: DatabaseSync
  readonly path: string

  constructor(path: string) {
    this.path = path
    this.db = new DatabaseSync(path)
    this.db.exec(
      'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;',
    )
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (module, version))',
    )
    this.migrate({
      module: 'store',
      steps: ['CREATE TABLE node_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)'],
    })
  }

  /** A small value the node keeps between runs (e.g. the active model); null when unset. */
  getMeta(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM node_meta WHERE key = ?').get(key) as
      | { value: string }
      | undefined
    return row?.value ?? null
  }

  setMeta(key: string, value: string | null): void {
    if (value === null) this.db.prepare('DELETE FROM node_meta WHERE key = ?').run(key)
    else
      this.db
        .prepare(
          'INSERT INTO node_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
        )
        .run(key, value)
  }

  /** Applies the steps this store has not seen yet, each in its own transaction. */
  migrate(m: Migrations): number {
    const row = this.db
      .prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations WHERE module = ?')
      .get(m.module) as { v: number }
    for (let v = row.v + 1; v <= m.steps.length; v++) {
      this.transaction(() => {
        this.db.exec(m.steps[v - 1]!)
        this.db
          .prepare('INSERT INTO schema_migrations (module, version, applied_at) VALUES (?, ?, ?)')
          .run(m.module, v, new Date().toISOString())
      })
    }
    return m.steps.length
  }

  /** Sum of applied versions over all modules: one number that changes whenever the schema does. */
  schemaVersion(): number {
    const row = this.db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }
    return row.n
  }

  transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const out = fn()
      this.db.exec('COMMIT')
      return out
    } catch (err) {
      this.db.exec('ROLLBACK')
      throw err
    }
  }

  healthy(): boolean {
    try {
      this.db.prepare('SELECT 1').get()
      return true
    } catch {
      return false
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}
