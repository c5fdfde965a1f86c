import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ReadyLine, RuntimeHealth, StatusSummary } from '@edgecoder/protocol'
import { type Confinement, Sandbox } from '@edgecoder/sandbox'
import { enrollNode, NodeActivation, PortalWallet } from './activation/index.ts'
import {
  APP_ORIGINS,
  buildApi,
  creditRoutes,
  DEV_ORIGINS,
  eventRoutes,
  healthRoutes,
  IdeMetrics,
  inviteRoutes,
  type ModelLoad,
  meshRoutes,
  metricsRoutes,
  modelRoutes,
  type NodeView,
  OriginPolicy,
  ollamaAdmin,
  ollamaRoutes,
  openAiRoutes,
  orchestrationRoutes,
  type RouteModule,
  readiness,
  sseClients,
  taskRoutes,
  uiRoutes,
  walletRoutes,
  type ZodApp,
} from './api/index.ts'
import { type AgentConfig, isLoopbackHost } from './config.ts'
import { EventBus } from './events.ts'
import { registerGossipMetrics } from './gossip-metrics.ts'
import { loadOrCreateApiToken, loadOrCreateIdentity, type NodeIdentity } from './identity.ts'
import { type ModelInfo, ModelManager, SUGGESTED_MODEL } from './inference/index.ts'
import { creditPolicy, LedgerNode } from './ledger/index.ts'
import type { Logger } from './logger.ts'
import { Mesh, meshOptions } from './mesh/index.ts'
import { NodeMetrics } from './metrics.ts'
import { createRouting, type Routing, routingOptions } from './routing/index.ts'
import { SettingsStore } from './settings/index.ts'
import { startupMark } from './startup-trace.ts'
import { DataDirLock, Store } from './store/index.ts'
import { TaskEngine } from './tasks/index.ts'
import { VERSION } from './version.ts'

/** The port the API should listen on is taken. */
export class PortInUseError extends Error {
  override name = 'PortInUseError'
}

/** A long-lived part of the node: started in order, stopped in reverse. */
export interface Part {
  readonly name: string
  start(): Promise<void>
  stop(): Promise<void>
}

type NodeState = 'idle' | 'starting' | 'started' | 'closing' | 'closed'

const STATUS_INTERVAL_MS = 5_000
/** The built desktop UI, served at /ui for headless nodes (a checkout or the app's bundled agent). */
const UI_DIST = fileURLToPath(new URL('../../../desktop/dist', import.meta.url))

/**
 * The unified agent: wires identity, store, settings, API and (as they land) mesh, tasks and
 * inference. One place knows the start order; `close()` undoes it in reverse.
 */
export class EdgeNode {
  readonly config: AgentConfig
  readonly log: Logger
  readonly events = new EventBus()
  readonly metrics = new NodeMetrics()
  readonly startedAt = new Date()
  state: NodeState = 'idle'
  identity!: NodeIdentity
  store!: Store
  settings!: SettingsStore
  activation!: NodeActivation
  mesh!: Mesh
  sandbox!: Sandbox
  models!: ModelManager
  #modelList: ModelInfo[] = []
  tasks!: TaskEngine
  routing!: Routing
  ledger!: LedgerNode
  apiToken!: { token: string; created: boolean }
  api!: ZodApp
  apiUrl = ''
  #lock: DataDirLock
  #stack: { name: string; stop: () => Promise<void> | void }[] = []
  #statusTimer: NodeJS.Timeout | undefined
  /** The sandbox's OS wall, probed while the store, the mesh and the ledger start. */
  #confinement: Promise<Confinement> | undefined
  /** The provider's last word on its model; status is async, the runtime view is not: each view asks anew. */
  #modelState: { name: string; loaded: boolean } | null = null
  /** The model loaded at start, which readiness waits for. */
  #modelLoad: ModelLoad = null

  constructor(config: AgentConfig, log: Logger) {
    this.config = config
    this.log = log
    this.#lock = new DataDirLock(config.dataDir)
  }

  async start(): Promise<ReadyLine> {
    this.state = 'starting'
    const { config, log } = this
    try {
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
      this.#lock.acquire()
      this.#confinement = Sandbox.probe()
      this.#stack.push({ name: 'lock', stop: () => this.#lock.release() })
      startupMark('data dir lock')

      this.identity = await loadOrCreateIdentity(config.dataDir)
      if (this.identity.created)
        log.info({ peerId: this.identity.peerId.toString() }, 'created node identity')
      this.apiToken = loadOrCreateApiToken(config.dataDir)
      startupMark('identity')

      this.store = new Store(join(config.dataDir, 'edgecoder.db'))
      this.#stack.push({ name: 'store', stop: () => this.store.close() })
      this.settings = new SettingsStore(this.store, config.overrides)
      startupMark('store')
      this.settings.on('change', (s, keys) => {
        log.info({ keys }, 'settings changed')
        this.events.publish('settings', s)
        this.#publishStatus()
      })

      // Parts that later issues add (mesh, inference, tasks) start here, each with `await this.#startPart(part)`,
      // and contribute their routes to the list below.
      const routes: RouteModule[] = []

      this.activation = new NodeActivation(
        {
          dataDir: config.dataDir,
          portalKey: config.portalKey,
          requireActivation: config.requireActivation,
          portalUrl: config.portalUrl,
          revocationPollMs: config.revocationPollMs,
        },
        this.identity,
        log,
      )
      await this.#startPart(this.activation)
      startupMark('activation')
      this.activation.onRevoked = (ids) => {
        for (const id of ids) if (this.mesh.peers.has(id)) this.mesh.peers.remove(id, 'revoked by the portal')
      }
      this.mesh = new Mesh({
        options: meshOptions({
          host: config.p2pHost,
          port: config.p2pPort,
          announce: config.announce,
          bootstrap: config.bootstrap,
          discoveryUrl: config.discoveryUrl,
          mdns: config.mdns,
          relayService: config.relayService,
          heartbeatMs: config.advertIntervalMs,
          evictAfterHeartbeats: config.evictAfterHeartbeats,
        }),
        identity: this.identity,
        settings: this.settings,
        store: this.store,
        events: this.events,
        log,
        mode: config.mode,
        version: VERSION,
        activation: this.activation,
      })
      await this.#startPart(this.mesh)
      startupMark('mesh')
      routes.push(meshRoutes(this.mesh))
      this.ledger = this.#createLedger()
      await this.#startPart(this.ledger)
      startupMark('ledger')
      routes.push(creditRoutes(this.ledger), this.#walletRoutes())
      this.routing = createRouting(
        {
          options: routingOptions({ heartbeatMs: config.taskHeartbeatMs }),
          identity: this.identity,
          mesh: this.mesh,
          store: this.store,
          settings: this.settings,
          executes: config.mode !== 'coordinator',
          localModels: () => this.#modelList.map((m) => m.name),
          settlement: this.ledger.settlement,
          log,
        },
        () => this.tasks,
      )

      await this.#startTasks()
      // The IDE endpoints answer from the local model when it is the one asked for, else from a peer's.
      const chat = this.routing.chat(this.models)
      const ideMetrics = new IdeMetrics(this.metrics.registry)
      registerGossipMetrics(this.metrics.registry, () => this.mesh.stats())
      routes.push(
        taskRoutes(this.tasks),
        modelRoutes(this.models),
        openAiRoutes(chat, ideMetrics),
        ollamaRoutes(chat, { admin: ollamaAdmin(this.models), metrics: ideMetrics }),
        uiRoutes(UI_DIST),
      )

      startupMark('routes')
      await this.#startApi(routes)
      this.#statusTimer = setInterval(() => this.#publishStatus(), STATUS_INTERVAL_MS).unref()
      this.state = 'started'
      return {
        peerId: this.identity.peerId.toString(),
        apiUrl: this.apiUrl,
        p2pAddrs: this.mesh.addresses(),
        pid: process.pid,
        version: VERSION,
        dataDir: config.dataDir,
      }
    } catch (err) {
      await this.close()
      throw err
    }
  }

  /** The ledger: this node's chain, settlement with peers, `LEDGER_PROTOCOL` on the mesh's host. */
  #createLedger(): LedgerNode {
    const { config, log, metrics } = this
    const relayPrice = () =>
      this.mesh.relays
        ? { perKTokens: config.relayPricePerKTokens, perCpuSecond: config.relayPricePerCpuSecond }
        : null
    const ledger = new LedgerNode({
      store: this.store,
      key: this.identity.privateKey,
      selfId: this.identity.peerId.toString(),
      policy: creditPolicy({
        memberLine: config.creditLine,
        privateMesh: () => this.settings.get().meshToken !== null,
      }),
      grantKeys: config.grantKeys,
      rates: { perKTokens: config.pricePerKTokens, perCpuSecond: config.pricePerCpuSecond },
      maxPerTask: config.maxCreditsPerTask,
      relayPrice,
      relayPriceOf: (peerId) => this.mesh.peers.get(peerId)?.advert.body.relayPrice ?? null,
      creditCheck: config.creditCheck,
      host: () => this.mesh.host,
      addrsOf: (peerId) => this.mesh.peers.get(peerId)?.addrs ?? [],
      register: (protocol, handler, options) => this.mesh.handle(protocol, handler, options),
      connectedPeers: () => [
        ...new Set((this.mesh.host?.getConnections() ?? []).map((c) => c.remotePeer.toString())),
      ],
      onSettled: (e) => {
        if (e.direction === 'in') metrics.creditsEarned.inc({ kind: e.kind }, e.credits)
        else metrics.creditsSpent.inc({ kind: e.kind }, e.credits)
        metrics.creditBalance.set(e.balance)
        this.events.publish('settlement', e)
        this.#publishStatus()
      },
      onHeadChanged: () => this.mesh.advertChanged(),
      onOffender: (peerId) => {
        log.warn({ peer: peerId }, 'peer forked its chain: refused from now on')
        this.events.publish('offender', { peerId })
      },
      log: log.child({ part: 'ledger' }),
    })
    metrics.creditBalance.set(ledger.ledger.totals.balance)
    this.mesh.setProviders({
      chainHead: () => ledger.advertHead(),
      relayPrice,
    })
    this.mesh.setHooks({
      refused: (peerId) => ledger.ledger.isOffender(peerId),
      carried: (src, dst) => ledger.hopFees.carriedCircuit(src, dst),
    })
    const follow = (peerId: string) =>
      ledger.followHead(peerId, this.mesh.peers.get(peerId)?.advert.body.chainHead)
    this.mesh.peers.on('joined', (p) => follow(p.peerId))
    this.mesh.peers.on('updated', (p, what) => {
      if (what === 'advert') follow(p.peerId)
    })
    return ledger
  }

  /** Enrollment and the portal's wallet, as the UI drives them. */
  #walletRoutes(): RouteModule {
    const activation = this.activation
    return walletRoutes({
      wallet: new PortalWallet(this.ledger.ledger),
      portal: () => activation.portal,
      certificate: () => {
        const c = activation.certificate()
        return c ? { accountId: c.accountId, roles: [...c.roles], expiresAt: c.expiresAt } : null
      },
      enroll: async (portal, code) => {
        const enrolled = await enrollNode(this.config.dataDir, this.identity, portal, code)
        activation.adopt(enrolled.portal, enrolled.certificate)
        this.mesh.advertChanged()
        return enrolled
      },
    })
  }

  /** Starts a part and remembers to stop it, in reverse order, on close. */
  async #startPart(part: Part): Promise<void> {
    await part.start()
    this.#stack.push({ name: part.name, stop: () => part.stop() })
  }

  /**
   * The sandbox, the local model (when given), the task engine and the task protocol. A
   * coordinator never runs tasks, so its sandbox stays cold; a worker runs tasks but takes none
   * from its local API.
   */
  async #startTasks(): Promise<void> {
    const { config, log } = this
    // The sandbox's processes start with the first run of their language and exit when idle.
    this.sandbox = new Sandbox({
      logger: log.child({ part: 'sandbox' }),
      idleMs: config.sandboxIdleMs,
      confinement: await (this.#confinement ?? Sandbox.probe()),
    })
    if (config.mode !== 'coordinator') {
      const sandbox = this.sandbox
      const { confined, detail } = sandbox.confinement
      if (confined) log.info({ confinement: detail }, 'sandbox confined by the OS')
      else if (config.allowUnconfined)
        log.warn(
          { reason: detail },
          'sandbox NOT confined by the OS; peers’ code runs anyway (--allow-unconfined-sandbox)',
        )
      else
        log.warn({ reason: detail }, 'sandbox NOT confined by the OS: peers’ run and code tasks are refused')
      await this.#startPart({ name: 'sandbox', start: () => sandbox.start(), stop: () => sandbox.stop() })
    }
    startupMark('sandbox')
    await this.#startModels()
    startupMark('models')
    this.tasks = new TaskEngine(
      {
        executes: config.mode !== 'coordinator',
        acceptsLocal: config.mode !== 'worker',
        acceptsPeerCode: this.peerCodeAllowed,
        maxQueued: config.maxQueuedTasks,
      },
      {
        store: this.store,
        bus: this.events,
        settings: this.settings,
        sandbox: this.sandbox,
        model: this.models,
        log: log.child({ part: 'tasks' }),
        metrics: this.metrics,
        router: this.routing.router,
      },
    )
    // The task service starts before the engine (offers meanwhile are declined: the node is not
    // started) and stops after it: the engine gives its peers' copies up first, and each submitter
    // hears that on its stream. A copy that finished in between can't be lost on a dropped stream.
    await this.#startPart(this.routing.service(this.tasks))
    await this.#startPart(this.tasks)
    startupMark('tasks')
    this.routing.advertise(this.tasks)
    startupMark('routing')
  }

  /**
   * The one command that gets a node without a model a good one, or null when the node has a
   * model (or its provider manages its own): a catalog name works with the embedded provider
   * (from the model hub) and with Ollama (from its library) alike.
   */
  async modelHint(): Promise<string | null> {
    if (this.models === undefined || this.models.provider.name === 'openai-compatible') return null
    const list = await this.models.listModels().catch(() => null)
    return list !== null && list.length === 0 ? `edgecoder models pull ${SUGGESTED_MODEL}` : null
  }

  /**
   * The model manager: picks the provider, remembers the active model across restarts, and
   * keeps the advert's model list current.
   */
  async #startModels(): Promise<void> {
    const { config, log } = this
    const models = new ModelManager({
      choice: this.settings.get().provider,
      modelsDir: join(config.dataDir, 'models'),
      modelPath: config.modelPath,
      ollamaHost: config.ollamaHost,
      openAiBaseUrl: config.openAiBaseUrl,
      openAiApiKey: config.openAiApiKey,
      llamaThreads: config.llamaThreads,
      modelHub: config.modelHub,
      activeModel: this.store.getMeta('models.active'),
    })
    await this.#startPart(models)
    this.models = models
    log.info({ provider: models.provider.name, reason: models.reason }, 'inference provider chosen')
    // The provider is a run-time setting: refused before it is written when it can't be used now.
    this.settings.addCheck((next, keys) =>
      keys.includes('provider') ? models.providerProblem(next.provider) : null,
    )
    this.settings.on('change', (s, keys) => {
      if (!keys.includes('provider')) return
      models.useProvider(s.provider).then(
        () =>
          log.info({ provider: models.provider.name, reason: models.reason }, 'inference provider switched'),
        (err) => log.error({ err }, 'inference provider switch failed'),
      )
    })
    const refresh = async () => {
      try {
        const [list, status] = await Promise.all([models.listModels(), models.status()])
        this.#modelList = list
        this.#modelState = status.activeModel ? { name: status.activeModel, loaded: status.loaded } : null
        this.mesh.advertChanged()
      } catch (err) {
        log.warn({ err }, 'model list failed')
      }
    }
    models.on('changed', () => {
      this.store.setMeta('models.active', models.activeModel)
      this.events.publish('models', { active: models.activeModel })
      void refresh()
    })
    // The model loads while the rest of the node starts; readiness says `loading` until it is in.
    if (await models.servesLocalModel()) this.#modelLoad = 'loading'
    models.warm().then(
      (name) => {
        this.#modelLoad = name === null ? null : 'loaded'
        if (name === null) return
        log.info({ model: name }, 'model loaded')
        this.#refreshModelState()
      },
      (err) => {
        if (this.#modelLoad === 'loading') this.#modelLoad = 'failed'
        log.error({ err }, 'inference provider failed to start')
      },
    )
    if (config.modelUrl && config.modelSha256) {
      const src = { url: config.modelUrl, sha256: config.modelSha256 }
      // In the background: a multi-GB first pull must not hold up the API or the mesh.
      models.ensure(src).then(
        (r) =>
          log.info(
            { model: r.name, pulled: r.pulled },
            r.pulled ? 'model pulled and verified' : 'model present',
          ),
        (err) => log.error({ err, url: src.url }, 'model pull on start failed'),
      )
    }
    void refresh()
      .then(() => this.modelHint())
      .then((pull) => {
        if (pull !== null)
          log.warn(
            { pull },
            'no model here yet: chat and code go to peers that have one; pull one with the command in "pull"',
          )
      })
    this.mesh.setProviders({
      models: () =>
        this.#modelList.slice(0, 32).map((m) => ({
          name: m.name,
          family: m.family,
          parameters: m.parameters,
          quantization: m.quantization,
          // What a request can hold here, which is what a peer routing to it needs to know.
          contextLength: m.servedContext ?? m.contextLength,
        })),
      provider: () => models.provider.name,
    })
  }

  #refreshModelState(): void {
    this.models?.status().then(
      (s) => {
        this.#modelState = s.activeModel ? { name: s.activeModel, loaded: s.loaded } : null
      },
      (err) => this.log.warn({ err }, 'provider status failed'),
    )
  }

  async #startApi(extraRoutes: RouteModule[]): Promise<void> {
    const { config } = this
    const loopback = isLoopbackHost(config.apiHost)
    if (!loopback) {
      this.log.warn(
        { host: config.apiHost },
        'API bound beyond loopback: every request needs the bearer token',
      )
    }
    const view: NodeView = {
      runtime: () => this.runtime(),
      status: () => this.status(),
      readiness: () =>
        readiness(
          this.state === 'started' ? 'started' : this.state === 'starting' ? 'starting' : 'stopping',
          this.store.healthy(),
          this.#modelLoad,
        ),
    }
    this.api = await buildApi(
      {
        version: VERSION,
        bodyLimitBytes: config.bodyLimitBytes,
        logger: this.log,
        metrics: this.metrics,
        guard: {
          token: loopback ? null : this.apiToken.token,
          loopbackOnly: loopback,
          allowedOrigins: new OriginPolicy([
            ...APP_ORIGINS,
            ...(config.devOrigins ? DEV_ORIGINS : []),
            ...config.allowedOrigins,
          ]),
        },
      },
      [
        healthRoutes(view),
        orchestrationRoutes(this.settings),
        inviteRoutes({
          settings: this.settings,
          peerId: this.identity.peerId.toString(),
          addresses: () => this.mesh.addresses(),
        }),
        eventRoutes(this.events, () => ({ status: this.status(), settings: this.settings.get() })),
        metricsRoutes(this.metrics, () => this.#refreshGauges()),
        ...extraRoutes,
      ],
    )
    startupMark('api build')
    try {
      await this.api.listen({ host: config.apiHost, port: config.apiPort })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') {
        throw new PortInUseError(
          `API port ${config.apiPort} on ${config.apiHost} is already in use (another agent?); choose another with --api-port`,
        )
      }
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
        throw new PortInUseError(`cannot listen on ${config.apiHost}: no such local address (--api-host)`)
      }
      throw err
    }
    this.#stack.push({ name: 'api', stop: () => this.api.close() })
    startupMark('api listen')
    const addr = this.api.server.address()
    const port = typeof addr === 'object' && addr ? addr.port : config.apiPort
    const host = config.apiHost.includes(':') ? `[${config.apiHost}]` : config.apiHost
    this.apiUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`
  }

  runtime(): RuntimeHealth {
    this.#refreshModelState()
    return {
      peerId: this.identity.peerId.toString(),
      mode: this.config.mode,
      version: VERSION,
      uptimeSec: this.uptimeSec(),
      startedAt: this.startedAt.toISOString(),
      addresses: this.mesh.addresses(),
      apiUrl: this.apiUrl,
      provider: this.models ? { name: this.models.provider.name, reason: this.models.reason } : null,
      model: this.#modelState,
      peers: { total: this.mesh.peers.size, online: this.mesh.peers.counts().online },
      queue: { depth: this.tasks.queueDepth, running: this.tasks.runningCount },
      reachability: this.mesh.reachability(),
      relayReservations: this.mesh.relayReservations(),
      holePunch: this.mesh.holePunch(),
      dht: this.mesh.dht(),
      store: { ok: this.store.healthy(), schemaVersion: this.store.schemaVersion() },
      contributing: this.settings.get().contributing,
      earnings: this.#earnings(),
      agentRssBytes: process.memoryUsage.rss(),
      sandbox: { ...this.sandbox.status(), peerCodeAllowed: this.peerCodeAllowed },
      eventStreams: sseClients(),
    }
  }

  #earnings() {
    const t = this.ledger.ledger.totals
    return { credits: t.balance, earned: t.earned, spent: t.spent }
  }

  /** Peers' run and code tasks are taken only behind the OS wall, unless the operator said otherwise. */
  get peerCodeAllowed(): boolean {
    return (
      this.config.mode !== 'coordinator' && (this.sandbox.confinement.confined || this.config.allowUnconfined)
    )
  }

  status(): StatusSummary {
    const tasks = this.tasks.counts()
    return {
      tasks: {
        completed: tasks.succeeded,
        failed: tasks.failed,
        running: tasks.running,
        queued: tasks.queued,
      },
      queueDepth: this.tasks.queueDepth,
      earnings: this.#earnings(),
      peers: this.mesh.peers.counts().online,
      uptimeSec: this.uptimeSec(),
      contributing: this.settings.get().contributing,
    }
  }

  uptimeSec(): number {
    return Math.round((Date.now() - this.startedAt.getTime()) / 100) / 10
  }

  #refreshGauges(): void {
    const s = this.status()
    this.metrics.queueDepth.set(s.queueDepth)
    this.metrics.tasksRunning.set(s.tasks.running)
    for (const [state, n] of Object.entries(this.mesh.peers.counts())) this.metrics.peers.set({ state }, n)
  }

  #publishStatus(): void {
    if (this.state === 'started' && this.events.listenerCount('event') > 0)
      this.events.publish('status', this.status())
  }

  /** Stops every started part in reverse order. Safe to call twice. */
  async close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return
    this.state = 'closing'
    clearInterval(this.#statusTimer)
    while (this.#stack.length > 0) {
      const part = this.#stack.pop()!
      try {
        await part.stop()
      } catch (err) {
        this.log.error({ err, part: part.name }, 'part failed to stop')
      }
    }
    this.state = 'closed'
  }
}
