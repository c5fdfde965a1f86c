import { type Block, blockHash, type EquivocationProof } from '@edgecoder/protocol'
import type { Store } from '../store/index.ts'

const MIGRATIONS = {
  module: 'ledger',
  steps: [
    // Every chain this node holds, its own included; a block is never changed nor deleted.
    `CREATE TABLE ledger_blocks (
       peer_id TEXT NOT NULL,
       seq INTEGER NOT NULL,
       hash TEXT NOT NULL,
       kind TEXT NOT NULL,
       counterparty TEXT NOT NULL,
       proposal_hash TEXT,
       ts INTEGER NOT NULL,
       json TEXT NOT NULL,
       PRIMARY KEY (peer_id, seq)
     ) WITHOUT ROWID;
     CREATE INDEX ledger_blocks_by_hash ON ledger_blocks (hash);
     CREATE INDEX ledger_blocks_by_proposal ON ledger_blocks (proposal_hash) WHERE proposal_hash IS NOT NULL;
     CREATE TABLE ledger_offenders (
       peer_id TEXT PRIMARY KEY,
       proof TEXT NOT NULL,
       at INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE ledger_expectations (
       executor TEXT NOT NULL,
       work_id TEXT NOT NULL,
       attempt INTEGER NOT NULL,
       kind TEXT NOT NULL,
       quote TEXT NOT NULL,
       tokens INTEGER,
       wall_ms INTEGER,
       settled_by TEXT,
       created_at INTEGER NOT NULL,
       PRIMARY KEY (executor, work_id, attempt)
     ) WITHOUT ROWID;`,
  ],
}

/** What the submitter saw of one piece of work done by a peer: the quote and, once over, what it received. */
export interface Expectation {
  executor: string
  workId: string
  attempt: number
  kind: string
  quote: string
  /** Null until the result arrived. */
  tokens: number | null
  wallMs: number | null
  /** Hash of the proposal agreed to for this work, once settled. */
  settledBy: string | null
}

type Row = { json: string }

/** The SQLite side of the ledger: blocks by chain, offenders and what submitters expect to pay. */
export class ChainStore {
  readonly #store: Store

  constructor(store: Store) {
    this.#store = store
    store.migrate(MIGRATIONS)
  }

  transaction<T>(fn: () => T): T {
    return this.#store.transaction(fn)
  }

  /**
   * Stores a block (already validated by the caller). Returns `stored`, `known` (the very same
   * block is there) or the other block at that seq: proof of equivocation.
   */
  put(block: Block): { status: 'stored' | 'known' } | { status: 'conflict'; other: Block } {
    const hash = blockHash(block)
    const existing = this.get(block.peerId, block.seq)
    if (existing !== undefined)
      return blockHash(existing) === hash ? { status: 'known' } : { status: 'conflict', other: existing }
    this.#store.db
      .prepare(
        'INSERT INTO ledger_blocks (peer_id, seq, hash, kind, counterparty, proposal_hash, ts, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        block.peerId,
        block.seq,
        hash,
        block.tx.type,
        block.counterparty,
        block.tx.type === 'agreement' ? block.tx.proposalHash : null,
        block.ts,
        JSON.stringify(block),
      )
    return { status: 'stored' }
  }

  get(peerId: string, seq: number): Block | undefined {
    const row = this.#store.db
      .prepare('SELECT json FROM ledger_blocks WHERE peer_id = ? AND seq = ?')
      .get(peerId, seq) as Row | undefined
    return row ? (JSON.parse(row.json) as Block) : undefined
  }

  byHash(hash: string): Block | undefined {
    const row = this.#store.db.prepare('SELECT json FROM ledger_blocks WHERE hash = ?').get(hash) as
      | Row
      | undefined
    return row ? (JSON.parse(row.json) as Block) : undefined
  }

  /** The agreement that answers a proposal, when held. */
  agreementTo(proposalHash: string): Block | undefined {
    const row = this.#store.db
      .prepare('SELECT json FROM ledger_blocks WHERE proposal_hash = ? ORDER BY ts LIMIT 1')
      .get(proposalHash) as Row | undefined
    return row ? (JSON.parse(row.json) as Block) : undefined
  }

  /** Blocks of a chain from `fromSeq` on, in order. */
  range(peerId: string, fromSeq: number, limit: number): Block[] {
    const rows = this.#store.db
      .prepare('SELECT json FROM ledger_blocks WHERE peer_id = ? AND seq >= ? ORDER BY seq LIMIT ?')
      .all(peerId, fromSeq, limit) as Row[]
    return rows.map((r) => JSON.parse(r.json) as Block)
  }

  /** Blocks of a chain below `beforeSeq`, newest first; only those with `counterparty` when given. */
  before(peerId: string, beforeSeq: number, limit: number, counterparty?: string): Block[] {
    const rows = (
      counterparty === undefined
        ? this.#store.db
            .prepare('SELECT json FROM ledger_blocks WHERE peer_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?')
            .all(peerId, beforeSeq, limit)
        : this.#store.db
            .prepare(
              'SELECT json FROM ledger_blocks WHERE peer_id = ? AND seq < ? AND counterparty = ? ORDER BY seq DESC LIMIT ?',
            )
            .all(peerId, beforeSeq, counterparty, limit)
    ) as Row[]
    return rows.map((r) => JSON.parse(r.json) as Block)
  }

  head(peerId: string): { seq: number; hash: string } | null {
    const row = this.#store.db
      .prepare('SELECT seq, hash FROM ledger_blocks WHERE peer_id = ? ORDER BY seq DESC LIMIT 1')
      .get(peerId) as { seq: number; hash: string } | undefined
    return row ? { seq: row.seq, hash: row.hash } : null
  }

  /** Seqs of a chain's proposals held here without an agreement held here, lowest first. */
  openProposals(peerId: string): number[] {
    const rows = this.#store.db
      .prepare(
        `SELECT seq FROM ledger_blocks b WHERE peer_id = ? AND kind = 'transfer'
           AND NOT EXISTS (SELECT 1 FROM ledger_blocks a WHERE a.proposal_hash = b.hash) ORDER BY seq`,
      )
      .all(peerId) as { seq: number }[]
    return rows.map((r) => r.seq)
  }

  /** How many blocks of a chain are held at seqs 1..seq: `seq` when none is missing. */
  countUpTo(peerId: string, seq: number): number {
    const row = this.#store.db
      .prepare('SELECT COUNT(*) AS n FROM ledger_blocks WHERE peer_id = ? AND seq <= ?')
      .get(peerId, seq) as { n: number }
    return row.n
  }

  /** Every chain held: owner, blocks held, highest seq. */
  chains(): { peerId: string; held: number; top: number }[] {
    return this.#store.db
      .prepare(
        'SELECT peer_id AS peerId, COUNT(*) AS held, MAX(seq) AS top FROM ledger_blocks GROUP BY peer_id',
      )
      .all() as { peerId: string; held: number; top: number }[]
  }

  addOffender(proof: EquivocationProof, now: number): boolean {
    const { changes } = this.#store.db
      .prepare('INSERT OR IGNORE INTO ledger_offenders (peer_id, proof, at) VALUES (?, ?, ?)')
      .run(proof.a.peerId, JSON.stringify(proof), now)
    return Number(changes) === 1
  }

  offenders(): { peerId: string; proof: EquivocationProof }[] {
    const rows = this.#store.db.prepare('SELECT peer_id, proof FROM ledger_offenders').all() as {
      peer_id: string
      proof: string
    }[]
    return rows.map((r) => ({ peerId: r.peer_id, proof: JSON.parse(r.proof) as EquivocationProof }))
  }

  expect(e: Omit<Expectation, 'tokens' | 'wallMs' | 'settledBy'>, now: number): void {
    this.#store.db
      .prepare(
        'INSERT OR IGNORE INTO ledger_expectations (executor, work_id, attempt, kind, quote, tokens, wall_ms, created_at) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?)',
      )
      .run(e.executor, e.workId, e.attempt, e.kind, e.quote, now)
  }

  observed(executor: string, workId: string, attempt: number, tokens: number, wallMs: number): void {
    this.#store.db
      .prepare(
        'UPDATE ledger_expectations SET tokens = ?, wall_ms = ? WHERE executor = ? AND work_id = ? AND attempt = ?',
      )
      .run(tokens, wallMs, executor, workId, attempt)
  }

  expectation(executor: string, workId: string, attempt: number): Expectation | undefined {
    const row = this.#store.db
      .prepare(
        'SELECT executor, work_id AS workId, attempt, kind, quote, tokens, wall_ms AS wallMs, settled_by AS settledBy FROM ledger_expectations WHERE executor = ? AND work_id = ? AND attempt = ?',
      )
      .get(executor, workId, attempt) as Expectation | undefined
    return row ? { ...row } : undefined
  }

  settle(executor: string, workId: string, attempt: number, proposalHash: string): void {
    this.#store.db
      .prepare(
        'UPDATE ledger_expectations SET settled_by = ? WHERE executor = ? AND work_id = ? AND attempt = ?',
      )
      .run(proposalHash, executor, workId, attempt)
  }

  /** Forgets expectations older than `before`: their proposals expired anyway. */
  sweepExpectations(before: number): void {
    this.#store.db.prepare('DELETE FROM ledger_expectations WHERE created_at < ?').run(before)
  }
}
