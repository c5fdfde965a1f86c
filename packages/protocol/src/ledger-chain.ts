import { z } from 'zod'
import {
  agreementMismatch,
  Block,
  balanceEffect,
  blockHash,
  GENESIS_HASH,
  verifyBlock,
  verifyGrant,
} from './ledger.ts'

/** Why a block of a chain fails validation. */
export const ChainProblemCode = z.enum([
  'malformed',
  'bad-signature',
  'wrong-owner',
  'seq-gap',
  'bad-link',
  'bad-transfer',
  'agreement-mismatch',
  'replayed',
  'grant-untrusted',
  'grant-bad-signature',
  'credit-line',
])
export type ChainProblemCode = z.infer<typeof ChainProblemCode>

export const ChainProblem = z.object({
  peerId: z.string(),
  seq: z.number().int(),
  code: ChainProblemCode,
  message: z.string(),
})
export type ChainProblem = z.infer<typeof ChainProblem>

/** What a validator knows beyond the chain itself: the other chains it holds and its policy. */
export interface ChainContext {
  /** The block at `seq` of `peerId`'s chain, when held. */
  block(peerId: string, seq: number): Block | undefined
  /** The agreement, when held, that answers the proposal with this hash. */
  agreementTo(proposalHash: string): Block | undefined
  /** How far below zero this identity may go. */
  creditLine(peerId: string): number
  /** Peer ids whose grant certificates are honoured. */
  grantIssuers: ReadonlySet<string>
}

export interface ChainReport {
  peerId: string
  /** Blocks checked and found valid, from seq 1 on; validation stops at the first bad block. */
  validLength: number
  valid: boolean
  /** Balance from the pairs complete in this view, plus grants. */
  balance: number
  /** Agreements whose proposal this view lacks: they count for nothing until it arrives. */
  unresolved: number
  /** This chain's proposals whose agreement this view has not seen: they count for nothing yet. */
  pending: number
  problems: ChainProblem[]
}

function transferProblem(b: Block): string | null {
  const tx = b.tx
  if (tx.type === 'grant') {
    if (tx.certificate.peerId !== b.peerId) return 'grant is for another peer'
    return b.linkSeq === 0 ? null : 'a grant links to nothing'
  }
  const t = tx.type === 'transfer' ? tx : tx.transfer
  if (t.from === t.to) return 'a transfer needs two parties'
  if (b.peerId !== t.from && b.peerId !== t.to) return 'the owner is no party to the transfer'
  const other = b.peerId === t.from ? t.to : t.from
  if (b.counterparty !== other) return 'counterparty is not the other party'
  if (tx.type === 'transfer' && b.linkSeq !== 0) return 'a proposal links to nothing'
  if (tx.type === 'agreement' && b.linkSeq < 1) return 'an agreement links to its proposal'
  return null
}

export interface ValidateOptions {
  /**
   * Blocks up to this seq (and the counterparts they link to) were verified before, e.g. when a
   * node stored them: everything else is checked again, their signatures are not.
   */
  verifiedThrough?: number
}

/**
 * Validates one chain from its first block: schema, signature, seq without gaps, hash links,
 * transfer rules, agreements against the proposals they name, grants against trusted issuers,
 * no reused nonce or grant, and the owner's credit line after every debit that counts.
 */
export async function validateChain(
  blocks: readonly unknown[],
  ctx: ChainContext,
  opts: ValidateOptions = {},
): Promise<ChainReport> {
  const verified = opts.verifiedThrough ?? 0
  const first = Block.safeParse(blocks[0])
  const peerId = first.success ? first.data.peerId : ''
  const report: ChainReport = {
    peerId,
    validLength: 0,
    valid: true,
    balance: 0,
    unresolved: 0,
    pending: 0,
    problems: [],
  }
  const seen = new Set<string>()
  let prevHash = GENESIS_HASH
  const fail = (seq: number, code: ChainProblemCode, message: string) => {
    report.valid = false
    report.problems.push({ peerId, seq, code, message })
    return report
  }
  for (let i = 0; i < blocks.length; i++) {
    const parsed = Block.safeParse(blocks[i])
    if (!parsed.success) return fail(i + 1, 'malformed', parsed.error.issues[0]?.message ?? 'not a block')
    const b = parsed.data
    if (b.peerId !== peerId) return fail(b.seq, 'wrong-owner', 'block of another chain')
    if (b.seq !== i + 1) return fail(i + 1, 'seq-gap', `expected seq ${i + 1}, found ${b.seq}`)
    if (b.prevHash !== prevHash) return fail(b.seq, 'bad-link', 'prevHash is not the previous block')
    const fresh = b.seq > verified
    if (fresh && !(await verifyBlock(b))) return fail(b.seq, 'bad-signature', 'signature does not verify')
    const rule = transferProblem(b)
    if (rule) return fail(b.seq, 'bad-transfer', rule)
    const tx = b.tx
    const once =
      tx.type === 'grant'
        ? `g:${tx.certificate.grantId}`
        : tx.type === 'transfer'
          ? `n:${tx.nonce}`
          : `a:${tx.proposalHash}`
    if (seen.has(once)) return fail(b.seq, 'replayed', 'the same grant, nonce or proposal twice')
    seen.add(once)
    let counts = false
    if (tx.type === 'grant') {
      if (!ctx.grantIssuers.has(b.counterparty))
        return fail(b.seq, 'grant-untrusted', 'issuer is not a grant key')
      if (fresh && !(await verifyGrant(tx.certificate, b.counterparty)))
        return fail(b.seq, 'grant-bad-signature', 'grant certificate does not verify')
      counts = true
    } else if (tx.type === 'agreement') {
      const proposal = ctx.block(b.counterparty, b.linkSeq)
      if (proposal === undefined) report.unresolved++
      else {
        const why =
          agreementMismatch(proposal, b) ??
          (!fresh || (await verifyBlock(proposal)) ? null : 'forged proposal')
        if (why) return fail(b.seq, 'agreement-mismatch', why)
        counts = true
      }
    } else {
      // The counterparty's signature is what makes a proposal count: a view may hold forgeries.
      const agreement = ctx.agreementTo(blockHash(b))
      counts =
        agreement !== undefined &&
        agreementMismatch(b, agreement) === null &&
        (!fresh || (await verifyBlock(agreement)))
      if (agreement === undefined) report.pending++
    }
    if (counts) {
      const effect = balanceEffect(b)
      report.balance += effect
      if (effect < 0 && report.balance < -ctx.creditLine(peerId))
        return fail(b.seq, 'credit-line', `balance ${report.balance} is below the credit line`)
    }
    prevHash = blockHash(b)
    report.validLength = b.seq
  }
  return report
}

/** Two different blocks signed by one node at one seq: proof that it forked its chain. */
export const EquivocationProof = z.object({ a: Block, b: Block }).strict()
export type EquivocationProof = z.infer<typeof EquivocationProof>

/** The offender's peer id when the proof holds, else null. */
export async function checkEquivocation(proof: EquivocationProof): Promise<string | null> {
  const { a, b } = proof
  if (a.peerId !== b.peerId || a.seq !== b.seq) return null
  if (blockHash(a) === blockHash(b)) return null
  if (!(await verifyBlock(a)) || !(await verifyBlock(b))) return null
  return a.peerId
}
