import pg from 'pg'
import type { Database, Queryable } from './database.ts'

// bigint columns (counts, sats) come back as numbers: every value the portal keeps fits in 2^53.
pg.types.setTypeParser(20, (v) => Number(v))

/** A PostgreSQL server through node-postgres, for `DATABASE_URL`. */
export async function openPostgres(url: string): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: 10 })
  // Fail at start, with the server's own message, rather than on the first request.
  const probe = await pool.connect()
  probe.release()
  const wrap = (c: pg.Pool | pg.PoolClient): Queryable => ({
    query: async <T>(sql: string, params: unknown[] = []) => (await c.query(sql, params)).rows as T[],
  })
  return {
    kind: 'postgres',
    ...wrap(pool),
    async transaction(fn) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const out = await fn(wrap(client))
        await client.query('COMMIT')
        return out
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      } finally {
        client.release()
      }
    },
    exec: async (sql) => {
      await pool.query(sql)
    },
    close: () => pool.end(),
  }
}
