import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LedgerRequest, LedgerResponse, RelayPrice, TaskOfferBody } from '@edgecoder/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import pino from 'pino'
import {
  ChainStore,
  creditPolicy,
  HopFees,
  HopStore,
  Ledger,
  LedgerRefusedError,
  Settlement,
} from '../../src/ledger/index.ts'
import { Store } from '../../src/store/index.ts'

const dirs: string[] = []
export function cleanup(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
}

/** A node's ledger over a real SQLite store in a temp dir; `reopen` simulates a restart. */
export interface TestLedger {
  key: PrivateKey
  peerId: string
  store: Store
  ledger: Ledger
  settlement: Settlement
  hopFees: HopFees
  /** The fee it asks as a relay; null when it relays nothing. */
  relayPrice: RelayPrice | null
  reopen(): TestLedger
}

export interface Net {
  nodes: Map<string, TestLedger>
  /** Peers that are "down": requests to them fail like a broken stream. */
  down: Set<string>
}

export function net(): Net {
  return { nodes: new Map(), down: new Set() }
}

/** Delivers a ledger request in-process, as `LedgerService` would over libp2p. */
async function deliver(n: Net, from: string, to: string, req: LedgerRequest): Promise<LedgerResponse> {
  const target = n.nodes.get(to)
  if (!target || n.down.has(to)) throw new Error(`${to} unreachable`)
  if (req.type !== 'settle') throw new Error('only settle in these tests')
  try {
    return { type: 'agreement', block: await target.settlement.answer(req.proposal, from) }
  } catch (err) {
    if (err instanceof LedgerRefusedError)
      return { type: 'refused', reason: err.reason, message: err.message }
    throw err
  }
}

export interface TestLedgerOptions {
  creditLine?: number
  grantIssuers?: string[]
  maxPerTask?: number
  relayPrice?: RelayPrice
}

export async function testLedger(
  n: Net,
  opts: TestLedgerOptions = {},
  existing?: { key: PrivateKey; dir: string },
): Promise<TestLedger> {
  const key = existing?.key ?? (await generateKeyPair('Ed25519'))
  const dir = existing?.dir ?? mkdtempSync(join(tmpdir(), 'edgecoder-ledger-'))
  if (!existing) dirs.push(dir)
  return open(n, key, dir, opts)
}

function open(n: Net, key: PrivateKey, dir: string, opts: TestLedgerOptions): TestLedger {
  const peerId = peerIdFromPrivateKey(key).toString()
  const store = new Store(join(dir, 'edgecoder.db'))
  const ledger = new Ledger({
    chains: new ChainStore(store),
    key,
    selfId: peerId,
    policy: creditPolicy({ memberLine: opts.creditLine ?? 100, privateMesh: () => true }),
    grantIssuers: new Set(opts.grantIssuers ?? []),
  })
  const relayPrice = opts.relayPrice ?? null
  const hopFees = new HopFees({
    ledger,
    hops: new HopStore(store),
    ownPrice: () => relayPrice,
    advertisedPrice: (relay) => n.nodes.get(relay)?.relayPrice ?? null,
    maxPerHop: opts.maxPerTask ?? 1000,
    log: pino({ level: 'silent' }),
  })
  const settlement = new Settlement({
    ledger,
    rates: { perKTokens: 100, perCpuSecond: 10 },
    maxPerTask: opts.maxPerTask ?? 1000,
    balanceOf: null,
    request: (to, req) => deliver(n, peerId, to, req),
    retryMs: 60_000,
    observeWaitMs: 50,
    hopFees,
    log: pino({ level: 'silent' }),
  })
  const node: TestLedger = {
    key,
    peerId,
    store,
    ledger,
    settlement,
    hopFees,
    relayPrice,
    reopen: () => {
      store.close()
      return open(n, key, dir, opts)
    },
  }
  n.nodes.set(peerId, node)
  return node
}

let taskCounter = 0
/** An offer as the executor sees it after admission. */
export function offer(submitter: TestLedger, executor: TestLedger, maxTokens = 200): TaskOfferBody {
  taskCounter++
  return {
    v: 1,
    taskId: `task-${taskCounter}`,
    attempt: 1,
    origin: submitter.peerId,
    executor: executor.peerId,
    spec: {
      kind: 'chat',
      messages: [{ role: 'user', content: 'hi' }],
      maxTokens,
      submitter: 'ide',
      priority: 'high',
    },
    heartbeatMs: 1000,
    nonce: 'nonce-abcdefghijklmnop',
    issuedAt: Date.now(),
    expiresAt: Date.now() + 60_000,
  }
}
