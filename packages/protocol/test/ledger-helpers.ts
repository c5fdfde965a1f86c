import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  type Block,
  blockHash,
  type ChainContext,
  type ChainHead,
  makeAgreement,
  makeProposal,
  signBlock,
  type TransferTx,
} from '../src/index.ts'

export interface Party {
  key: Ed25519PrivateKey
  peerId: string
  chain: Block[]
}

/** A party with a key derived from one byte, so that signatures and hashes are reproducible. */
export async function party(seedByte: number): Promise<Party> {
  const key = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(seedByte))
  return { key, peerId: peerIdFromPrivateKey(key).toString(), chain: [] }
}

export function head(p: Party): ChainHead {
  const last = p.chain.at(-1)
  return last ? { seq: last.seq, hash: blockHash(last) } : null
}

let nonceCounter = 0
export function transfer(
  from: Party,
  to: Party,
  credits: number,
  extra: Partial<TransferTx> = {},
): TransferTx {
  nonceCounter++
  return {
    type: 'transfer',
    from: from.peerId,
    to: to.peerId,
    credits,
    memo: '',
    nonce: `nonce-${String(nonceCounter).padStart(12, '0')}`,
    ref: null,
    ...extra,
  }
}

/** A full pair: `proposer` proposes `tx`, the other party agrees; both chains grow. */
export async function pair(proposer: Party, other: Party, tx: TransferTx, ts = 1_000_000) {
  const proposal = await signBlock(makeProposal(proposer.peerId, head(proposer), tx, ts), proposer.key)
  proposer.chain.push(proposal)
  const agreement = await signBlock(makeAgreement(other.peerId, head(other), proposal, ts + 10), other.key)
  other.chain.push(agreement)
  return { proposal, agreement }
}

/** A validator's view holding every chain of `parties`. */
export function view(parties: Party[], opts: { creditLine?: number; issuers?: string[] } = {}): ChainContext {
  const all = parties.flatMap((p) => p.chain)
  return {
    block: (peerId, seq) => all.find((b) => b.peerId === peerId && b.seq === seq),
    agreementTo: (hash) => all.find((b) => b.tx.type === 'agreement' && b.tx.proposalHash === hash),
    creditLine: () => opts.creditLine ?? 100,
    grantIssuers: new Set(opts.issuers ?? []),
  }
}
