import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'

/** Another portal runs on this data dir. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError'
}

/**
 * One portal per data dir: two on one embedded database would corrupt it. An exclusive SQLite
 * lock on `portal.lock`, which the OS drops when the process dies, even on kill -9.
 */
export class PortalLock {
  #db: DatabaseSync | null = null
  readonly #path: string

  constructor(dataDir: string) {
    this.#path = join(dataDir, 'portal.lock')
  }

  acquire(): void {
    const db = new DatabaseSync(this.#path, { timeout: 0 })
    try {
      db.exec(
        'PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (pid INTEGER); COMMIT;',
      )
    } catch {
      db.close()
      throw new DataDirLockedError(
        `another portal is already running on ${this.#path.replace(/\/portal\.lock$/, '')}`,
      )
    }
    this.#db = db
  }

  release(): void {
    this.#db?.close()
    this.#db = null
  }
}
