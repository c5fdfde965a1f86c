import { z } from 'zod'
import { Block, BlockHash, PriceQuote, Usage } from './ledger.ts'
import { ChainProblem, EquivocationProof } from './ledger-chain.ts'

/** `GET /credits/balance`: this node's credits from complete pairs and grants. */
export const CreditBalance = z.object({
  peerId: z.string(),
  balance: z.number().int(),
  /** Credits received for work and in grants. */
  earned: z.number().int(),
  /** Credits paid for work done by peers and withdrawn. */
  spent: z.number().int(),
  /** Outgoing proposals not yet agreed nor expired: held back from what can be spent. */
  pendingOut: z.number().int(),
  /** Incoming proposals not yet agreed nor expired. */
  pendingIn: z.number().int(),
  creditLine: z.number().int(),
  /** What this node may still spend: balance + credit line − pending out. */
  available: z.number().int(),
  chainLength: z.number().int(),
})
export type CreditBalance = z.infer<typeof CreditBalance>

export const TransferState = z.enum(['settled', 'pending', 'expired'])

/** One line of `GET /credits/history`. */
export const CreditHistoryEntry = z.object({
  seq: z.number().int(),
  hash: BlockHash,
  kind: z.enum(['task', 'chat', 'hop', 'transfer', 'grant']),
  direction: z.enum(['in', 'out']),
  counterparty: z.string(),
  credits: z.number().int(),
  state: TransferState,
  taskId: z.string().nullable(),
  usage: Usage.nullable(),
  price: PriceQuote.nullable(),
  memo: z.string(),
  at: z.string(),
})
export type CreditHistoryEntry = z.infer<typeof CreditHistoryEntry>

export const CreditHistory = z.object({
  entries: z.array(CreditHistoryEntry),
  /** Pass as `before` for the next (older) page; null on the last page. */
  next: z.number().int().nullable(),
})
export type CreditHistory = z.infer<typeof CreditHistory>

export const CreditHistoryQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    before: z.coerce.number().int().min(1).optional(),
    /** Only the transfers with this peer: what a peer's detail shows as credits exchanged. */
    counterparty: z.string().min(1).max(128).optional(),
  })
  .strict()

/** `GET /credits/chain/:peerId`: what this node holds of a chain and whether it validates. */
export const ChainView = z.object({
  peerId: z.string(),
  held: z.number().int(),
  /** Blocks from seq 1 without a gap: the part that can be validated. */
  contiguous: z.number().int(),
  valid: z.boolean(),
  /** From the pairs complete in this view, plus grants; null while the chain is held in part. */
  balance: z.number().int().nullable(),
  /** Proposals of this chain whose agreement this node has not seen yet: not in `balance`. */
  pending: z.number().int(),
  /** Agreements of this chain whose proposal this node has not seen yet: not in `balance`. */
  unresolved: z.number().int(),
  equivocated: z.boolean(),
  problems: z.array(ChainProblem),
  blocks: z.array(Block),
})
export type ChainView = z.infer<typeof ChainView>

export const ChainViewQuery = z
  .object({
    fromSeq: z.coerce.number().int().min(1).default(1),
    limit: z.coerce.number().int().min(0).max(1000).default(100),
  })
  .strict()

/** `GET /credits/verify`: every chain held, validated. */
export const LedgerVerifyReport = z.object({
  ok: z.boolean(),
  chains: z.array(
    z.object({
      peerId: z.string(),
      held: z.number().int(),
      validLength: z.number().int(),
      valid: z.boolean(),
      complete: z.boolean(),
      balance: z.number().int(),
    }),
  ),
  /** Sum of balances of the complete, valid chains, against the grants they hold. */
  totals: z.object({ balances: z.number().int(), grants: z.number().int() }),
  offenders: z.array(z.string()),
  problems: z.array(ChainProblem),
})
export type LedgerVerifyReport = z.infer<typeof LedgerVerifyReport>

/** `POST /credits/transfers`: propose paying `to` (e.g. the portal, for a withdrawal). */
export const TransferRequest = z
  .object({
    to: z.string().min(1).max(128),
    credits: z.number().int().min(1).max(1_000_000_000_000),
    memo: z.string().max(256).default(''),
  })
  .strict()
export type TransferRequest = z.infer<typeof TransferRequest>

/** Why a settlement or ledger request was refused. */
export const LedgerRefusal = z.enum([
  'malformed',
  'forged',
  'misaddressed',
  'unknown-work',
  'not-observed',
  'over-quote',
  'over-observed',
  'credit-line',
  'expired',
  'replayed',
  'offender',
  'stopping',
])
export type LedgerRefusal = z.infer<typeof LedgerRefusal>

/** A request on `LEDGER_PROTOCOL`: one per stream. */
export const LedgerRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('settle'), proposal: Block }).strict(),
  z
    .object({
      type: z.literal('blocks'),
      peerId: z.string().min(1).max(128),
      fromSeq: z.number().int().min(1),
      limit: z.number().int().min(1).max(1000),
    })
    .strict(),
  z.object({ type: z.literal('proof'), proof: EquivocationProof }).strict(),
])
export type LedgerRequest = z.infer<typeof LedgerRequest>

export const LedgerResponse = z.discriminatedUnion('type', [
  z.object({ type: z.literal('agreement'), block: Block }).strict(),
  z
    .object({
      type: z.literal('blocks'),
      blocks: z.array(Block).max(1000),
      /** The other half of each transfer in `blocks`, where the server holds it. */
      counterparts: z.array(Block).max(1000),
      head: z.number().int(),
    })
    .strict(),
  z.object({ type: z.literal('ok') }).strict(),
  z.object({ type: z.literal('refused'), reason: LedgerRefusal, message: z.string().max(1024) }).strict(),
])
export type LedgerResponse = z.infer<typeof LedgerResponse>

/** The `settlement` event on `/events`: a pair completed in this node's chain. */
export const SettlementEvent = z.object({
  hash: BlockHash,
  direction: z.enum(['in', 'out']),
  counterparty: z.string(),
  credits: z.number().int(),
  kind: z.string(),
  taskId: z.string().nullable(),
  balance: z.number().int(),
})
export type SettlementEvent = z.infer<typeof SettlementEvent>
