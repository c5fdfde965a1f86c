import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ExecutorFrame, type SubmitterFrame, TASK_PROTOCOL } from '@edgecoder/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { EventBus } from '../../src/events.ts'
import { createLogger } from '../../src/logger.ts'
import { GossipCounters } from '../../src/mesh/gossip-counters.ts'
import { createHost, type MeshHost } from '../../src/mesh/host.ts'
import { meshOptions } from '../../src/mesh/index.ts'
import {
  FrameChannel,
  OfferNonces,
  type RoutingOptions,
  routingOptions,
  type SettlementPort,
  TaskClient,
  TaskService,
} from '../../src/routing/index.ts'
import { SettingsStore } from '../../src/settings/index.ts'
import { Store } from '../../src/store/index.ts'
import { TaskEngine } from '../../src/tasks/index.ts'
import { ScriptedSandbox } from '../tasks/fakes.ts'

/** Heartbeats in these tests: short, so a stall shows within a second or two. */
export const OPTIONS: RoutingOptions = routingOptions({
  heartbeatMs: 100,
  answerTimeoutMs: 2_000,
  cancelGraceMs: 1_000,
})

/** A real libp2p host on loopback (the mesh's own stack), started. */
export async function testHost(): Promise<{ host: MeshHost; key: PrivateKey; peerId: string }> {
  const key = await generateKeyPair('Ed25519')
  const host = await createHost({
    privateKey: key,
    options: meshOptions({ host: '127.0.0.1', port: 0, mdns: false, relayService: 'on' }),
    meshToken: null,
    counters: new GossipCounters(),
    version: 'test',
  })
  await host.start()
  return { host, key, peerId: host.peerId.toString() }
}

/**
 * An executor: a host serving the task protocol over a real task engine (in a temp store) whose
 * sandbox is scripted. `restart()` starts a new engine and service on the same store, as a
 * restarted node would.
 */
export class ExecutorNode {
  readonly dir = mkdtempSync(join(tmpdir(), 'edgecoder-routing-'))
  readonly store = new Store(join(this.dir, 'edgecoder.db'))
  readonly settings = new SettingsStore(this.store, {})
  readonly sandbox = new ScriptedSandbox()
  readonly log = createLogger('silent')
  models: string[] = []
  /** The ledger's side, when a test sets one before `start()`. */
  settlement: SettlementPort | undefined
  host!: MeshHost
  peerId = ''
  engine!: TaskEngine
  service!: TaskService

  /** Starts on a fresh mesh host, or on `host` (started) when given. */
  async start(host?: MeshHost): Promise<this> {
    this.host = host ?? (await testHost()).host
    this.peerId = this.host.peerId.toString()
    await this.#startParts()
    return this
  }

  async restart(): Promise<void> {
    await this.engine.stop()
    await this.service.stop()
    await this.host.unhandle(TASK_PROTOCOL)
    await this.#startParts()
  }

  async #startParts(): Promise<void> {
    const bus = new EventBus()
    this.engine = new TaskEngine(
      {},
      { store: this.store, bus, settings: this.settings, sandbox: this.sandbox, model: null, log: this.log },
    )
    await this.engine.start()
    this.service = new TaskService({
      options: OPTIONS,
      selfId: this.peerId,
      engine: this.engine,
      nonces: new OfferNonces(this.store),
      unableToRun: (spec) => (spec.kind !== 'run' && this.models.length === 0 ? 'no model here' : null),
      register: (handler) => this.host.handle(TASK_PROTOCOL, handler, { runOnLimitedConnection: true }),
      settlement: this.settlement,
      log: this.log,
    })
    await this.service.start()
  }

  addrs(): string[] {
    return this.host.getMultiaddrs().map((a) => a.toString())
  }

  async stop(): Promise<void> {
    this.sandbox.release()
    await this.engine.stop()
    await this.service.stop()
    await this.host.stop()
    this.store.close()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** A submitting node: a host and the task client on it. */
export async function submitterNode(
  options = OPTIONS,
): Promise<{ host: MeshHost; key: PrivateKey; peerId: string; client: TaskClient }> {
  const h = await testHost()
  const client = new TaskClient({ options, host: () => h.host, key: h.key, selfId: h.peerId })
  return { ...h, client }
}

/** A raw task stream from `host` to the executor, for frames the client would never send. */
export async function rawStream(
  host: MeshHost,
  executor: ExecutorNode,
): Promise<{ io: FrameChannel<ExecutorFrame, SubmitterFrame>; next: () => Promise<ExecutorFrame | null> }> {
  await host.dial(executor.host.getMultiaddrs())
  const stream = await host.dialProtocol(executor.host.peerId, TASK_PROTOCOL)
  const io = new FrameChannel<ExecutorFrame, SubmitterFrame>(stream, ExecutorFrame)
  const frames = io.frames()
  return {
    io,
    next: async () => {
      const r = await frames.next()
      if (r.done) return null
      if (!r.value.ok) throw new Error(r.value.error)
      return r.value.frame
    },
  }
}

/** Reads frames until one of `type` (skipping heartbeats, events and the accept); null when the stream ends first. */
export async function until<T extends ExecutorFrame['type']>(
  next: () => Promise<ExecutorFrame | null>,
  type: T,
): Promise<Extract<ExecutorFrame, { type: T }> | null> {
  for (let f = await next(); f !== null; f = await next()) {
    if (f.type === type) return f as Extract<ExecutorFrame, { type: T }>
    if (f.type !== 'heartbeat' && f.type !== 'event' && f.type !== 'accept')
      throw new Error(`expected ${type}, got ${JSON.stringify(f)}`)
  }
  return null
}
