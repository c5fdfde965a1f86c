import type { PriceQuote, Usage } from '@edgecoder/protocol'
import type { Store } from '../store/index.ts'

const MIGRATIONS = {
  module: 'ledger-hops',
  steps: [
    // Relay side: the circuits this node carried, by the pair of peers (either direction).
    // Submitter side: the relay each piece of work went through, and the fees owed to relays.
    // Relay side again: the hop fee agreed for each piece of work, so none is paid twice.
    `CREATE TABLE relay_circuits (
       a TEXT NOT NULL,
       b TEXT NOT NULL,
       at INTEGER NOT NULL,
       PRIMARY KEY (a, b)
     ) WITHOUT ROWID;
     CREATE TABLE hop_routes (
       executor TEXT NOT NULL,
       work_id TEXT NOT NULL,
       attempt INTEGER NOT NULL,
       relay TEXT NOT NULL,
       quote TEXT NOT NULL,
       created_at INTEGER NOT NULL,
       PRIMARY KEY (executor, work_id, attempt)
     ) WITHOUT ROWID;
     CREATE TABLE hop_fees_owed (
       relay TEXT NOT NULL,
       work_id TEXT NOT NULL,
       attempt INTEGER NOT NULL,
       executor TEXT NOT NULL,
       usage TEXT NOT NULL,
       quote TEXT NOT NULL,
       proposal_hash TEXT,
       created_at INTEGER NOT NULL,
       PRIMARY KEY (relay, work_id, attempt)
     ) WITHOUT ROWID;
     CREATE TABLE hop_fees_agreed (
       submitter TEXT NOT NULL,
       work_id TEXT NOT NULL,
       attempt INTEGER NOT NULL,
       proposal_hash TEXT NOT NULL,
       PRIMARY KEY (submitter, work_id, attempt)
     ) WITHOUT ROWID;`,
  ],
}

/** A fee this node owes a relay for carrying a piece of work, and the proposal paying it, once made. */
export interface OwedHop {
  relay: string
  workId: string
  attempt: number
  executor: string
  usage: Usage
  quote: PriceQuote
  proposalHash: string | null
}

interface OwedRow {
  relay: string
  work_id: string
  attempt: number
  executor: string
  usage: string
  quote: string
  proposal_hash: string | null
}

/**
 * What the ledger keeps about relays (SQLite, beside the chains): circuits a relay carried, the
 * relay each piece of work went through, fees owed, and fees agreed. Rows that matter to a
 * settlement are written in the same transaction as the block they go with.
 */
export class HopStore {
  readonly #store: Store

  constructor(store: Store) {
    this.#store = store
    store.migrate(MIGRATIONS)
  }

  /** Relay: a circuit between `src` and `dst` was opened through this node. */
  recordCircuit(src: string, dst: string, now: number): void {
    const [a, b] = src < dst ? [src, dst] : [dst, src]
    this.#store.db
      .prepare(
        'INSERT INTO relay_circuits (a, b, at) VALUES (?, ?, ?) ON CONFLICT (a, b) DO UPDATE SET at = excluded.at',
      )
      .run(a, b, now)
  }

  /** Relay: whether a circuit between the two peers was opened here since `since`. */
  carried(x: string, y: string, since: number): boolean {
    const [a, b] = x < y ? [x, y] : [y, x]
    const row = this.#store.db
      .prepare('SELECT at FROM relay_circuits WHERE a = ? AND b = ? AND at >= ?')
      .get(a, b, since)
    return row !== undefined
  }

  /** Submitter: the work went through `relay`, whose fee is `quote`. */
  route(executor: string, workId: string, attempt: number, relay: string, quote: PriceQuote, now: number) {
    this.#store.db
      .prepare(
        'INSERT OR IGNORE INTO hop_routes (executor, work_id, attempt, relay, quote, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(executor, workId, attempt, relay, JSON.stringify(quote), now)
  }

  routeOf(
    executor: string,
    workId: string,
    attempt: number,
  ): { relay: string; quote: PriceQuote } | undefined {
    const row = this.#store.db
      .prepare('SELECT relay, quote FROM hop_routes WHERE executor = ? AND work_id = ? AND attempt = ?')
      .get(executor, workId, attempt) as { relay: string; quote: string } | undefined
    return row ? { relay: row.relay, quote: JSON.parse(row.quote) as PriceQuote } : undefined
  }

  /** Submitter: the executor's claim was agreed, so the relay that carried the work is owed its fee. */
  owe(hop: Omit<OwedHop, 'proposalHash'>, now: number): void {
    this.#store.db
      .prepare(
        'INSERT OR IGNORE INTO hop_fees_owed (relay, work_id, attempt, executor, usage, quote, proposal_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)',
      )
      .run(
        hop.relay,
        hop.workId,
        hop.attempt,
        hop.executor,
        JSON.stringify(hop.usage),
        JSON.stringify(hop.quote),
        now,
      )
  }

  /** Submitter: fees owed that no proposal pays yet. */
  unpaid(): OwedHop[] {
    const rows = this.#store.db
      .prepare(
        'SELECT relay, work_id, attempt, executor, usage, quote, proposal_hash FROM hop_fees_owed WHERE proposal_hash IS NULL',
      )
      .all() as unknown as OwedRow[]
    return rows.map((r) => ({
      relay: r.relay,
      workId: r.work_id,
      attempt: r.attempt,
      executor: r.executor,
      usage: JSON.parse(r.usage) as Usage,
      quote: JSON.parse(r.quote) as PriceQuote,
      proposalHash: r.proposal_hash,
    }))
  }

  /** Submitter: the proposal paying a fee (or why none will: `none:<reason>`). */
  paid(relay: string, workId: string, attempt: number, proposalHash: string): void {
    this.#store.db
      .prepare('UPDATE hop_fees_owed SET proposal_hash = ? WHERE relay = ? AND work_id = ? AND attempt = ?')
      .run(proposalHash, relay, workId, attempt)
  }

  /** Relay: the proposal already agreed for this work of this submitter, if any. */
  agreedFor(submitter: string, workId: string, attempt: number): string | undefined {
    const row = this.#store.db
      .prepare(
        'SELECT proposal_hash FROM hop_fees_agreed WHERE submitter = ? AND work_id = ? AND attempt = ?',
      )
      .get(submitter, workId, attempt) as { proposal_hash: string } | undefined
    return row?.proposal_hash
  }

  agreed(submitter: string, workId: string, attempt: number, proposalHash: string): void {
    this.#store.db
      .prepare(
        'INSERT OR IGNORE INTO hop_fees_agreed (submitter, work_id, attempt, proposal_hash) VALUES (?, ?, ?, ?)',
      )
      .run(submitter, workId, attempt, proposalHash)
  }

  /** Forgets circuits and routes older than `before` (their fees expired anyway). */
  sweep(before: number): void {
    this.#store.db.prepare('DELETE FROM relay_circuits WHERE at < ?').run(before)
    this.#store.db.prepare('DELETE FROM hop_routes WHERE created_at < ?').run(before)
    this.#store.db
      .prepare('DELETE FROM hop_fees_owed WHERE proposal_hash IS NOT NULL AND created_at < ?')
      .run(before)
  }
}
