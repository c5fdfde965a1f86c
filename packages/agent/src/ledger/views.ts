import {
  type Block,
  blockHash,
  type ChainContext,
  type ChainProblem,
  type ChainView,
  type CreditBalance,
  type CreditHistory,
  type CreditHistoryEntry,
  type LedgerVerifyReport,
  validateChain,
} from '@edgecoder/protocol'
import type { Ledger } from './ledger.ts'

/** A validation context over every chain the node holds, with its own credit policy. */
export function storeContext(ledger: Ledger, grantIssuers: ReadonlySet<string>): ChainContext {
  return {
    block: (peerId, seq) => ledger.chains.get(peerId, seq),
    agreementTo: (hash) => ledger.chains.agreementTo(hash),
    creditLine: (peerId) => ledger.creditLine(peerId),
    grantIssuers,
  }
}

export function balanceView(ledger: Ledger): CreditBalance {
  const t = ledger.totals
  const p = ledger.pendingTotals()
  return {
    peerId: ledger.selfId,
    balance: t.balance,
    earned: t.earned,
    spent: t.spent,
    pendingOut: p.out,
    pendingIn: p.in,
    creditLine: ledger.creditLine(),
    available: ledger.available(),
    chainLength: ledger.head()?.seq ?? 0,
  }
}

/** This node's chain as transfers, newest first, `limit` at a time below seq `before`; with one peer only when `counterparty` is given. */
export function historyView(
  ledger: Ledger,
  limit: number,
  before?: number,
  counterparty?: string,
): CreditHistory {
  const blocks = ledger.chains.before(
    ledger.selfId,
    before ?? Number.MAX_SAFE_INTEGER,
    limit + 1,
    counterparty,
  )
  const page = blocks.slice(0, limit)
  return {
    entries: page.map((b) => entry(ledger, b)),
    next: blocks.length > limit ? page.at(-1)!.seq : null,
  }
}

function entry(ledger: Ledger, b: Block): CreditHistoryEntry {
  const at = new Date(b.ts).toISOString()
  const base = { seq: b.seq, hash: blockHash(b), counterparty: b.counterparty, at }
  const tx = b.tx
  if (tx.type === 'grant')
    return {
      ...base,
      kind: 'grant',
      direction: 'in',
      credits: tx.certificate.credits,
      state: 'settled',
      taskId: null,
      usage: null,
      price: null,
      memo: `grant ${tx.certificate.grantId}`,
    }
  const t = tx.type === 'transfer' ? tx : tx.transfer
  const settled = tx.type === 'agreement' || ledger.chains.agreementTo(blockHash(b)) !== undefined
  return {
    ...base,
    kind: t.ref?.kind ?? 'transfer',
    direction: t.to === ledger.selfId ? 'in' : 'out',
    credits: t.credits,
    state: settled ? 'settled' : ledger.isExpired(b) ? 'expired' : 'pending',
    taskId: t.ref?.id ?? null,
    usage: t.ref?.usage ?? null,
    price: t.ref?.quote ?? null,
    memo: t.memo,
  }
}

/** Every block of a chain from seq 1 while there is no gap. */
function contiguous(ledger: Ledger, peerId: string): Block[] {
  const out: Block[] = []
  for (;;) {
    const page = ledger.chains.range(peerId, out.length + 1, 1000)
    for (const b of page) {
      if (b.seq !== out.length + 1) return out
      out.push(b)
    }
    if (page.length < 1000) return out
  }
}

export async function chainView(
  ledger: Ledger,
  ctx: ChainContext,
  peerId: string,
  fromSeq: number,
  limit: number,
): Promise<ChainView> {
  const held = ledger.chains.chains().find((c) => c.peerId === peerId)?.held ?? 0
  const run = contiguous(ledger, peerId)
  const report = await validateChain(run, ctx)
  return {
    peerId,
    held,
    contiguous: run.length,
    valid: report.valid,
    balance: run.length === held ? report.balance : null,
    pending: report.pending,
    unresolved: report.unresolved,
    equivocated: ledger.isOffender(peerId),
    problems: report.problems,
    blocks: ledger.chains.range(peerId, fromSeq, limit),
  }
}

/** Validates every chain held; a chain held only in part is checked as far as it runs from seq 1. */
export async function verifyAll(ledger: Ledger, ctx: ChainContext): Promise<LedgerVerifyReport> {
  const problems: ChainProblem[] = []
  const chains: LedgerVerifyReport['chains'] = []
  let balances = 0
  let grants = 0
  for (const c of ledger.chains.chains()) {
    const run = contiguous(ledger, c.peerId)
    const r = await validateChain(run, ctx)
    const complete = run.length === c.held && r.unresolved === 0
    problems.push(...r.problems)
    chains.push({
      peerId: c.peerId,
      held: c.held,
      validLength: r.validLength,
      valid: r.valid,
      complete,
      balance: r.balance,
    })
    if (r.valid && run.length === c.held) {
      balances += r.balance
      for (const b of run) if (b.tx.type === 'grant') grants += b.tx.certificate.credits
    }
  }
  const offenders = ledger.chains.offenders().map((o) => o.peerId)
  return {
    ok: problems.length === 0 && offenders.length === 0,
    chains,
    totals: { balances, grants },
    offenders,
    problems,
  }
}
