import { join } from 'node:path'
import type { Database } from './database.ts'
import { migrate } from './migrations.ts'
import { openPglite } from './pglite.ts'
import { openPostgres } from './postgres.ts'

export type { Database, Queryable } from './database.ts'
export { MIGRATIONS, migrate } from './migrations.ts'

/** Opens the configured database (a server, or PGlite in the data dir) and brings its schema up to date. */
export async function openDatabase(opts: { databaseUrl: string | null; dataDir: string }): Promise<Database> {
  const db = opts.databaseUrl
    ? await openPostgres(opts.databaseUrl)
    : await openPglite(join(opts.dataDir, 'pgdata'))
  try {
    await migrate(db)
  } catch (err) {
    await db.close()
    throw err
  }
  return db
}
