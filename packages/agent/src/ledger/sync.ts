import {
  type Block,
  blockHash,
  type ChainContext,
  type ChainReport,
  type LedgerRequest,
  type LedgerResponse,
  validateChain,
  verifyBlock,
} from '@edgecoder/protocol'
import type { Ledger } from './ledger.ts'

/** Blocks per page of a chain fetch. */
export const SYNC_PAGE = 1000

/** A page of a chain this node holds, with the other half of each transfer in it where held. */
export function serveBlocks(
  ledger: Ledger,
  peerId: string,
  fromSeq: number,
  limit: number,
): Extract<LedgerResponse, { type: 'blocks' }> {
  const blocks = ledger.chains.range(peerId, fromSeq, limit)
  const counterparts: Block[] = []
  for (const b of blocks) {
    const other =
      b.tx.type === 'agreement'
        ? ledger.chains.get(b.counterparty, b.linkSeq)
        : b.tx.type === 'transfer'
          ? ledger.chains.agreementTo(blockHash(b))
          : undefined
    if (other !== undefined) counterparts.push(other)
  }
  return { type: 'blocks', blocks, counterparts, head: ledger.chains.head(peerId)?.seq ?? 0 }
}

export interface FetchResult {
  report: ChainReport
  fetched: number
  stored: number
}

/**
 * Brings this node's copy of `chainOf` up to date from `source`: fetches what it lacks page by
 * page, validates the whole chain (the part held and the part fetched, with the counterparts the
 * source sent, each checked by signature), and stores only the valid prefix. A block that
 * differs from one held at the same seq is kept as proof of equivocation. From `recheckFrom`
 * on, the held part is read again too: its blocks are compared and the counterparts the source
 * holds for them (agreements this node lacks) are kept.
 */
export async function fetchChain(
  ledger: Ledger,
  ctx: ChainContext,
  request: (peerId: string, req: LedgerRequest) => Promise<LedgerResponse>,
  source: string,
  chainOf: string,
  recheckFrom?: number,
): Promise<FetchResult> {
  const held = ledger.chains.range(chainOf, 1, Number.MAX_SAFE_INTEGER)
  let run = 0
  while (run < held.length && held[run]!.seq === run + 1) run++
  const chain: Block[] = held.slice(0, run)
  const extra = new Map<string, Block>()
  const forks: { a: Block; b: Block }[] = []
  let fetched = 0
  // The first page starts at the last block held (or at recheckFrom): a different one there is a fork.
  let next = Math.min(recheckFrom ?? chain.length, chain.length) || 1
  for (;;) {
    const answer = await request(source, { type: 'blocks', peerId: chainOf, fromSeq: next, limit: SYNC_PAGE })
    if (answer.type !== 'blocks') break
    for (const c of answer.counterparts)
      if (c.peerId !== chainOf && (await verifyBlock(c))) extra.set(`${c.peerId}/${c.seq}`, c)
    let last = next - 1
    let stop = false
    for (const b of answer.blocks) {
      if (b.peerId !== chainOf || b.seq !== last + 1) {
        stop = true
        break
      }
      last = b.seq
      const mine = chain[b.seq - 1]
      if (mine === undefined) {
        chain.push(b)
        fetched++
      } else if (blockHash(mine) !== blockHash(b)) {
        if (await verifyBlock(b)) forks.push({ a: mine, b })
        stop = true
        break
      }
    }
    if (stop || last < next || last >= answer.head) break
    next = last + 1
  }
  const agreements = new Map<string, Block>()
  for (const b of extra.values()) if (b.tx.type === 'agreement') agreements.set(b.tx.proposalHash, b)
  const overlay: ChainContext = {
    ...ctx,
    block: (peerId, seq) => extra.get(`${peerId}/${seq}`) ?? ctx.block(peerId, seq),
    agreementTo: (hash) => agreements.get(hash) ?? ctx.agreementTo(hash),
  }
  // What is held was validated when it was stored: its signatures need no second check.
  const report = await validateChain(chain, overlay, { verifiedThrough: run })
  let stored = 0
  ledger.chains.transaction(() => {
    for (const b of [...chain.slice(run, report.validLength), ...extra.values()]) {
      const r = ledger.chains.put(b)
      if (r.status === 'stored' && b.peerId === chainOf) stored++
      if (r.status === 'conflict') forks.push({ a: r.other, b })
    }
  })
  for (const proof of forks) await ledger.addProof(proof)
  return { report, fetched, stored }
}
