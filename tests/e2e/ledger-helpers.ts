import { randomUUID } from 'node:crypto'
import {
  type Block,
  blockHash,
  type ChainView,
  type CreditBalance,
  type CreditHistory,
  grantIssuerId,
  type LedgerVerifyReport,
  makeAgreement,
  signBlock,
  signGrant,
} from '@edgecoder/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import type { AgentProcess } from './harness.ts'

/** The portal's side of the ledger contract, played by the test: it issues grants and agrees to withdrawals. */
export interface TestPortal {
  key: Ed25519PrivateKey
  /** `--grant-key` of the agents: base64url of the raw public key. */
  grantKey: string
  peerId: string
  chain: Block[]
  grant(to: AgentProcess, credits: number): Promise<Record<string, unknown>>
  /** Signs the agreement to a node's withdrawal proposal, in the portal's own chain. */
  agree(proposal: Block): Promise<Block>
}

export async function testPortal(): Promise<TestPortal> {
  const key = await generateKeyPair('Ed25519')
  const grantKey = Buffer.from(key.publicKey.raw).toString('base64url')
  const peerId = grantIssuerId(grantKey)
  const chain: Block[] = []
  return {
    key,
    grantKey,
    peerId,
    chain,
    grant: async (to, credits) =>
      signGrant(
        {
          type: 'edgecoder.grant/1',
          grantId: randomUUID(),
          peerId: to.ready.peerId,
          credits,
          issuedAt: Date.now(),
        },
        key,
      ),
    agree: async (proposal) => {
      const last = chain.at(-1)
      const head = last ? { seq: last.seq, hash: blockHash(last) } : null
      const block = await signBlock(makeAgreement(peerId, head, proposal, Date.now()), key)
      chain.push(block)
      return block
    },
  }
}

async function json<T>(a: AgentProcess, path: string, init?: Parameters<AgentProcess['api']>[1]): Promise<T> {
  const res = await a.api(path, init)
  if (res.status >= 300) throw new Error(`${path} answered ${res.status}: ${await res.text()}`)
  return (await res.json()) as T
}

export const balanceOf = (a: AgentProcess) => json<CreditBalance>(a, '/credits/balance')
export const historyOf = (a: AgentProcess, q = '') => json<CreditHistory>(a, `/credits/history${q}`)
export const verifyOn = (a: AgentProcess) => json<LedgerVerifyReport>(a, '/credits/verify')
export const chainOn = (a: AgentProcess, peerId: string) =>
  json<ChainView>(a, `/credits/chain/${peerId}?limit=1000`)
export const syncOn = (a: AgentProcess, peerId: string) =>
  json<{ fetched: number; stored: number; valid: boolean }>(a, '/credits/sync', {
    method: 'POST',
    json: { peerId },
  })

/** True once the node has no claim or payment waiting for its other half. */
export async function settled(a: AgentProcess): Promise<boolean> {
  const b = await balanceOf(a)
  return b.pendingIn === 0 && b.pendingOut === 0
}
