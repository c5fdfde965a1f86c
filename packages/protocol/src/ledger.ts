import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { canonicalJson, signingBytes } from './canonical.ts'

/**
 * The credit ledger: every node keeps its own append-only chain of signed blocks. A transfer is
 * a pair, a proposal in one chain and an agreement in the counterparty's chain that links to it;
 * it counts only when both exist. Grants (credits bought with sats) are blocks carrying a
 * certificate signed by a grant issuer. Everything here is pure: no I/O, no clock.
 */

/** The stream protocol that fetches blocks and carries settlement messages. */
export const LEDGER_PROTOCOL = '/edgecoder/ledger/1.0.0'
/** Domain tags of ledger signatures (see `signingBytes`). */
export const LEDGER_BLOCK_SIGNING_DOMAIN = 'ledger-block'
export const GRANT_SIGNING_DOMAIN = 'grant'
/** `prevHash` of a chain's first block. */
export const GENESIS_HASH = '0'.repeat(64)
/** An agreement signed later than this after its proposal is invalid: an unanswered proposal expires. */
export const PROPOSAL_TTL_MS = 10 * 60_000
/** How far an agreement may be dated before its proposal (clock skew between two nodes). */
export const LEDGER_MAX_SKEW_MS = 60_000

const PeerIdText = z.string().min(1).max(128)
export const BlockHash = z.string().regex(/^[0-9a-f]{64}$/, 'a block hash is 64 hex digits')
const Signature = z.string().regex(/^[A-Za-z0-9_-]{40,200}$/, 'a signature is base64url')
const Credits = z.number().int().min(1).max(1_000_000_000_000)
const Nonce = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'a nonce is 16 to 64 base64url characters')

/** An executor's price: credits per 1,000 generated tokens, per CPU-second of sandbox, and a cap. */
export const PriceQuote = z
  .object({
    perKTokens: z.number().int().min(0).max(1_000_000),
    perCpuSecond: z.number().int().min(0).max(1_000_000),
    max: z.number().int().min(0).max(1_000_000_000),
  })
  .strict()
export type PriceQuote = z.infer<typeof PriceQuote>

/** What was consumed: tokens delivered to the submitter and sandbox CPU time. */
export const Usage = z
  .object({
    tokens: z.number().int().min(0).max(100_000_000),
    cpuMs: z.number().int().min(0).max(100_000_000),
  })
  .strict()
export type Usage = z.infer<typeof Usage>

/** What a transfer paid for: a task attempt, a peer-served chat or a hop that carried one. */
export const SettlementRef = z
  .object({
    kind: z.enum(['task', 'chat', 'hop']),
    id: z.string().min(1).max(128),
    attempt: z.number().int().min(1).max(10_000),
    usage: Usage,
    quote: PriceQuote,
    /** For a hop: the executor at the far end of the circuit the relay carried. */
    peer: PeerIdText.optional(),
  })
  .strict()
export type SettlementRef = z.infer<typeof SettlementRef>

/** Credits move from `from` to `to`; the proposer is one of the two, the other agrees. */
export const TransferTx = z
  .object({
    type: z.literal('transfer'),
    from: PeerIdText,
    to: PeerIdText,
    credits: Credits,
    memo: z.string().max(256),
    /** Random, never reused: the same transfer can't be proposed twice by accident or replay. */
    nonce: Nonce,
    ref: SettlementRef.nullable(),
  })
  .strict()
export type TransferTx = z.infer<typeof TransferTx>

export const AgreementTx = z
  .object({
    type: z.literal('agreement'),
    proposalHash: BlockHash,
    /** A copy of the proposal's transfer: an agreement says on its own what it agreed to. */
    transfer: TransferTx,
  })
  .strict()
export type AgreementTx = z.infer<typeof AgreementTx>

/** Credits bought with sats, certified by the issuer (the portal) after the invoice was paid. */
export const GrantCertificateBody = z
  .object({
    type: z.literal('edgecoder.grant/1'),
    grantId: z.string().uuid(),
    peerId: PeerIdText,
    credits: Credits,
    issuedAt: z.number().int().min(0),
  })
  .strict()
export type GrantCertificateBody = z.infer<typeof GrantCertificateBody>
export const GrantCertificate = GrantCertificateBody.extend({ signature: Signature }).strict()
export type GrantCertificate = z.infer<typeof GrantCertificate>

export const GrantTx = z.object({ type: z.literal('grant'), certificate: GrantCertificate }).strict()
export type GrantTx = z.infer<typeof GrantTx>

export const BlockTx = z.discriminatedUnion('type', [TransferTx, AgreementTx, GrantTx])
export type BlockTx = z.infer<typeof BlockTx>

export const UnsignedBlock = z
  .object({
    v: z.literal(1),
    /** The chain's owner, who signs the block. */
    peerId: PeerIdText,
    seq: z.number().int().min(1),
    prevHash: BlockHash,
    counterparty: PeerIdText,
    /** For an agreement: the proposal's seq in the counterparty's chain; 0 otherwise. */
    linkSeq: z.number().int().min(0),
    tx: BlockTx,
    /** When the owner signed it, ms since the epoch. */
    ts: z.number().int().min(0),
  })
  .strict()
export type UnsignedBlock = z.infer<typeof UnsignedBlock>
export const Block = UnsignedBlock.extend({ signature: Signature }).strict()
export type Block = z.infer<typeof Block>

/** Anything that signs like a libp2p private key. */
export interface Signer {
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>
}

function withoutSignature<T extends { signature: string }>(signed: T): Omit<T, 'signature'> {
  const { signature: _, ...rest } = signed
  return rest
}

/** The block's identity: sha256 of its canonical JSON, signature included, as hex. */
export function blockHash(block: Block): string {
  return createHash('sha256').update(canonicalJson(block)).digest('hex')
}

export async function signBlock(unsigned: UnsignedBlock, key: Signer): Promise<Block> {
  const sig = await key.sign(signingBytes(LEDGER_BLOCK_SIGNING_DOMAIN, unsigned))
  return { ...unsigned, signature: Buffer.from(sig).toString('base64url') }
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo: the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
/** Verifying keys by peer id: building a key object costs more than the verification itself. */
const keyCache = new Map<string, KeyObject | null>()
const KEY_CACHE_MAX = 4096

function publicKeyOf(peerId: string): KeyObject | null {
  let key = keyCache.get(peerId)
  if (key !== undefined) return key
  try {
    const pk = peerIdFromString(peerId).publicKey
    key =
      pk?.type === 'Ed25519'
        ? createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, pk.raw]), format: 'der', type: 'spki' })
        : null
  } catch {
    key = null
  }
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!)
  keyCache.set(peerId, key)
  return key
}

async function verifyBy(peerId: string, bytes: Uint8Array, signature: string): Promise<boolean> {
  const key = publicKeyOf(peerId)
  if (key === null) return false
  try {
    return verify(null, bytes, key, Buffer.from(signature, 'base64url'))
  } catch {
    return false
  }
}

/** True when the block is signed by the owner of the chain it names. */
export function verifyBlock(block: Block): Promise<boolean> {
  return verifyBy(
    block.peerId,
    signingBytes(LEDGER_BLOCK_SIGNING_DOMAIN, withoutSignature(block)),
    block.signature,
  )
}

/** The issuer's ledger identity (its peer id) from its public key: base64url of the raw 32 bytes. */
export function grantIssuerId(publicKeyB64url: string): string {
  const raw = Buffer.from(publicKeyB64url, 'base64url')
  if (raw.length !== 32) throw new TypeError('a grant key is the base64url of a 32-byte Ed25519 public key')
  return peerIdFromPublicKey(publicKeyFromRaw(raw)).toString()
}

export async function signGrant(body: GrantCertificateBody, key: Signer): Promise<GrantCertificate> {
  const sig = await key.sign(signingBytes(GRANT_SIGNING_DOMAIN, body))
  return { ...body, signature: Buffer.from(sig).toString('base64url') }
}

/** True when `issuer` (a peer id) signed the certificate. */
export function verifyGrant(cert: GrantCertificate, issuer: string): Promise<boolean> {
  return verifyBy(issuer, signingBytes(GRANT_SIGNING_DOMAIN, withoutSignature(cert)), cert.signature)
}

/** The head a new block builds on: nothing yet, or the chain's last block. */
export type ChainHead = { seq: number; hash: string } | null

function next(peerId: string, head: ChainHead) {
  return { v: 1 as const, peerId, seq: (head?.seq ?? 0) + 1, prevHash: head?.hash ?? GENESIS_HASH }
}

/** The proposal half of a transfer, by `peerId` (either payer or payee). */
export function makeProposal(
  peerId: string,
  head: ChainHead,
  transfer: TransferTx,
  ts: number,
): UnsignedBlock {
  if (peerId !== transfer.from && peerId !== transfer.to) throw new TypeError('the proposer must be a party')
  if (transfer.from === transfer.to) throw new TypeError('a transfer needs two parties')
  const counterparty = peerId === transfer.from ? transfer.to : transfer.from
  return { ...next(peerId, head), counterparty, linkSeq: 0, tx: transfer, ts }
}

/** The agreement half: the counterparty's block that links to `proposal`. */
export function makeAgreement(peerId: string, head: ChainHead, proposal: Block, ts: number): UnsignedBlock {
  if (proposal.tx.type !== 'transfer') throw new TypeError('only a transfer can be agreed to')
  return {
    ...next(peerId, head),
    counterparty: proposal.peerId,
    linkSeq: proposal.seq,
    tx: { type: 'agreement', proposalHash: blockHash(proposal), transfer: proposal.tx },
    ts,
  }
}

/** A grant block: the certificate `issuer` signed, recorded in the recipient's own chain. */
export function makeGrantBlock(
  peerId: string,
  head: ChainHead,
  cert: GrantCertificate,
  issuer: string,
  ts: number,
): UnsignedBlock {
  return {
    ...next(peerId, head),
    counterparty: issuer,
    linkSeq: 0,
    tx: { type: 'grant', certificate: cert },
    ts,
  }
}

/** Why an agreement does not match the proposal it names, or null when it does. */
export function agreementMismatch(proposal: Block, agreement: Block): string | null {
  const tx = agreement.tx
  if (tx.type !== 'agreement') return 'not an agreement'
  if (proposal.tx.type !== 'transfer') return 'the linked block is not a proposal'
  if (agreement.counterparty !== proposal.peerId) return 'counterparty is not the proposer'
  if (proposal.counterparty !== agreement.peerId) return 'the proposal names another counterparty'
  if (agreement.linkSeq !== proposal.seq) return 'linkSeq is not the proposal seq'
  if (tx.proposalHash !== blockHash(proposal)) return 'proposal hash differs'
  if (canonicalJson(tx.transfer) !== canonicalJson(proposal.tx)) return 'transfer differs from the proposal'
  if (agreement.ts < proposal.ts - LEDGER_MAX_SKEW_MS) return 'agreement dated before its proposal'
  if (agreement.ts > proposal.ts + PROPOSAL_TTL_MS) return 'agreement signed after the proposal expired'
  return null
}

/** Credits a price quote allows for a usage: rounded up, never above the quote's cap. */
export function priceOf(quote: PriceQuote, usage: Usage): number {
  const milli = usage.tokens * quote.perKTokens + usage.cpuMs * quote.perCpuSecond
  return Math.min(quote.max, Math.ceil(milli / 1000))
}

/** How a block moves its owner's balance, once it counts. */
export function balanceEffect(block: Block): number {
  const tx = block.tx
  if (tx.type === 'grant') return tx.certificate.credits
  const t = tx.type === 'transfer' ? tx : tx.transfer
  return t.to === block.peerId ? t.credits : -t.credits
}
