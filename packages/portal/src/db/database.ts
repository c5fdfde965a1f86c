/**
 * The portal's one way to reach its database: SQL with `$1` parameters, the same on embedded
 * PGlite and on a PostgreSQL server, so every query and migration runs unchanged on both.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres'
  /** Runs `fn` in one transaction: all of it or nothing. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  /** Several statements at once, without parameters (migrations). */
  exec(sql: string): Promise<void>
  close(): Promise<void>
}
