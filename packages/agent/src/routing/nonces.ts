import type { Store } from '../store/index.ts'

const MIGRATIONS = {
  module: 'routing',
  steps: [
    `CREATE TABLE offer_nonces (
       origin TEXT NOT NULL,
       nonce TEXT NOT NULL,
       expires_at INTEGER NOT NULL,
       PRIMARY KEY (origin, nonce)
     ) WITHOUT ROWID;
     CREATE INDEX offer_nonces_by_expiry ON offer_nonces (expires_at);`,
  ],
}

/** Claims between two sweeps of expired nonces. */
const SWEEP_EVERY = 256

/**
 * Nonces of the offers this node took, kept in its store until the offers expire, so a replayed
 * offer is refused even after a restart. An expired offer is refused on its date alone.
 */
export class OfferNonces {
  readonly #store: Store
  #claims = 0

  constructor(store: Store) {
    this.#store = store
    store.migrate(MIGRATIONS)
  }

  /** Records the nonce; false when the origin used it before (a replay). */
  claim(origin: string, nonce: string, expiresAt: number, now: number): boolean {
    if (++this.#claims % SWEEP_EVERY === 0) this.sweep(now)
    const { changes } = this.#store.db
      .prepare('INSERT OR IGNORE INTO offer_nonces (origin, nonce, expires_at) VALUES (?, ?, ?)')
      .run(origin, nonce, expiresAt)
    return Number(changes) === 1
  }

  /** Forgets nonces of offers that expired: those offers are refused anyway. */
  sweep(now: number): void {
    this.#store.db.prepare('DELETE FROM offer_nonces WHERE expires_at < ?').run(now)
  }
}
