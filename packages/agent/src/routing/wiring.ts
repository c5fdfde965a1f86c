import { availableParallelism, loadavg } from 'node:os'
import { TASK_PROTOCOL, type TaskSpec } from '@edgecoder/protocol'
import type { NodeIdentity } from '../identity.ts'
import type { ChatBackend } from '../inference/index.ts'
import type { Logger } from '../logger.ts'
import type { Mesh } from '../mesh/index.ts'
import type { SettingsStore } from '../settings/index.ts'
import type { Store } from '../store/index.ts'
import { NO_MODEL_MESSAGE, type TaskEngine } from '../tasks/index.ts'
import { MeshChatBackend } from './mesh-chat.ts'
import { OfferNonces } from './nonces.ts'
import type { RoutingOptions } from './options.ts'
import { MeshRouter } from './router.ts'
import type { SettlementPort } from './settlement-port.ts'
import { TaskClient } from './task-client.ts'
import { TaskService } from './task-service.ts'

export interface RoutingInit {
  options: RoutingOptions
  identity: NodeIdentity
  mesh: Mesh
  store: Store
  settings: SettingsStore
  /** False on a coordinator: it places tasks but never runs them. */
  executes: boolean
  /** Names of the models this node serves now. */
  localModels: () => string[]
  /** The ledger's side of the task protocol: quotes, bills, observations. */
  settlement?: SettlementPort
  log: Logger
}

/** The most often load changes alone make the node publish a fresh advert. */
const LOAD_ADVERT_MS = 200

/** Streams one connection may carry on the task protocol: parked tasks and chats of a busy submitter. */
const MAX_TASK_STREAMS = 64

/** The routing parts of a node: the router the task engine places tasks with, the chat backend, the protocol service. */
export interface Routing {
  router: MeshRouter
  /** The IDE endpoints' backend: `local` (the model manager) first, peers for what it lacks. */
  chat(local: ChatBackend): MeshChatBackend
  /** The executor side of the task protocol over `engine`; a Part, started after the engine. */
  service(engine: TaskEngine): TaskService
  /** Puts the engine's free slots and waiting peers' tasks in the node's advert, kept current. */
  advertise(engine: TaskEngine): void
}

/** Wires routing for a node. Until `engine` is bound, the router sees this node with no free slot. */
export function createRouting(init: RoutingInit, engine: () => TaskEngine | undefined): Routing {
  const { options, identity, mesh, settings, log } = init
  const selfId = identity.peerId.toString()
  const client = new TaskClient({
    options,
    host: () => mesh.host,
    key: identity.privateKey,
    selfId,
    settlement: init.settlement,
  })
  const router = new MeshRouter({
    options,
    selfId,
    executes: init.executes,
    peers: mesh.peers,
    settings,
    client,
    log: log.child({ part: 'routing' }),
    local: () => {
      const total = settings.get().maxConcurrentTasks
      const e = engine()
      return {
        models: init.localModels(),
        slots: { total, free: Math.max(0, total - (e?.localRunning ?? total)) },
        queueDepth: e?.adoptedWaiting ?? 0,
        load: loadavg()[0]! / availableParallelism(),
      }
    },
  })
  const unableToRun = (spec: TaskSpec): string | null => {
    if (spec.kind === 'run') return null
    const models = init.localModels()
    if (
      (spec.kind === 'chat' || spec.kind === 'embed') &&
      spec.model !== undefined &&
      !models.includes(spec.model)
    )
      return `this node has no model ${spec.model}`
    return models.length === 0 ? NO_MODEL_MESSAGE : null
  }
  return {
    router,
    advertise: (e) => {
      mesh.setProviders({
        slots: () => {
          const total = settings.get().maxConcurrentTasks
          return { total, free: Math.max(0, total - e.localRunning) }
        },
        queueDepth: () => e.adoptedWaiting,
      })
      // Load changes with every task: adverts follow at most every LOAD_ADVERT_MS, the last change
      // included; between them submitters count their own placements.
      let pending = false
      e.onLoad(() => {
        if (pending) return
        pending = true
        setTimeout(() => {
          pending = false
          mesh.advertChanged()
        }, LOAD_ADVERT_MS).unref()
      })
    },
    chat: (local) => new MeshChatBackend({ options, local, router }),
    service: (e) =>
      new TaskService({
        options,
        selfId,
        engine: e,
        nonces: new OfferNonces(init.store),
        unableToRun,
        settlement: init.settlement,
        register: (handler) =>
          mesh.handle(TASK_PROTOCOL, handler, {
            maxInboundStreams: MAX_TASK_STREAMS,
            maxOutboundStreams: MAX_TASK_STREAMS,
            runOnLimitedConnection: true,
          }),
        log: log.child({ part: 'routing' }),
      }),
  }
}
