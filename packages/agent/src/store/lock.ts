import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'

/** Another agent holds this data dir. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError'
}

/**
 * One agent per data dir. The lock is an exclusive SQLite lock on `agent.lock`: the OS drops it
 * when the process dies, even on kill -9, so a crash never leaves a stale lock behind. The PID
 * file beside it is informational (supervisors use it to find an orphan).
 */
export class DataDirLock {
  #db: DatabaseSync | null = null
  readonly pidFile: string
  readonly dataDir: string

  constructor(dataDir: string) {
    this.dataDir = dataDir
    this.pidFile = join(dataDir, 'agent.pid')
  }

  acquire(): void {
    const db = new DatabaseSync(join(this.dataDir, 'agent.lock'), { timeout: 0 })
    try {
      db.exec(
        'PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (pid INTEGER); COMMIT;',
      )
    } catch {
      db.close()
      let pid = 'unknown'
      try {
        pid = readFileSync(this.pidFile, 'utf8').trim()
      } catch {}
      throw new DataDirLockedError(
        `another EdgeCoder agent (pid ${pid}) is already running on data dir ${this.dataDir}; stop it first or use --data-dir`,
      )
    }
    this.#db = db
    writeFileSync(this.pidFile, `${process.pid}\n`, { mode: 0o644 })
  }

  release(): void {
    if (!this.#db) return
    rmSync(this.pidFile, { force: true })
    this.#db.close()
    this.#db = null
  }
}
