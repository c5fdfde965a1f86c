import { availableParallelism, loadavg } from 'node:os'
import type {
  AdvertModel,
  NodeRole,
  OrchestrationSettings,
  PowerState,
  RelayPrice,
  RuntimeMode,
  Slots,
} from '@edgecoder/protocol'
import { policyAllowsWork } from '../settings/index.ts'
import type { AdvertContent } from './advertiser.ts'

/**
 * Where the advert's live figures come from. The parts that know them (inference, the task
 * engine) hand the mesh these functions; until they do, the defaults below apply.
 */
export interface MeshProviders {
  models(): AdvertModel[]
  /** The inference provider in use (`ollama`, `llama.cpp`, ...), if any. */
  provider(): string | null
  /** Task slots; null means "all of maxConcurrentTasks, free". */
  slots(): Slots | null
  queueDepth(): number
  /** Busy share of the machine's CPUs. */
  load(): number
  /** The head of this node's credit chain, null while it is empty. */
  chainHead(): { seq: number; hash: string; open?: number } | null
  /** This node's fee for the work it carries as a relay (advertised only when it serves relays). */
  relayPrice(): RelayPrice | null
}

/** What other parts tell the mesh about peers, and learn from it. */
export interface MeshHooks {
  /** Peers this node refuses (they forked their chain): their gossip score goes below the graylist. */
  refused(peerId: string): boolean
  /** A circuit between two peers opened through this node's relay. */
  carried(src: string, dst: string): void
}

export const DEFAULT_HOOKS: MeshHooks = { refused: () => false, carried: () => {} }

export const DEFAULT_PROVIDERS: MeshProviders = {
  models: () => [],
  provider: () => null,
  slots: () => null,
  queueDepth: () => 0,
  load: () => loadavg()[0]! / availableParallelism(),
  chainHead: () => null,
  relayPrice: () => null,
}

/** The roles a node takes: coordinators accept and route tasks, workers run them. */
export function rolesFor(mode: RuntimeMode, s: OrchestrationSettings): NodeRole[] {
  const roles: NodeRole[] = []
  if (mode !== 'worker' && s.coordinatorRole) roles.push('coordinator')
  if (mode !== 'coordinator') roles.push('worker')
  return roles
}

/** Whether the node takes work now, as its settings say. Idle detection is not wired yet: not idle. */
export function powerStateOf(s: OrchestrationSettings, now: Date): PowerState {
  if (!s.contributing) return 'paused'
  return policyAllowsWork(s, now, false) ? 'active' : 'standby'
}

export function slotsOf(providers: MeshProviders, s: OrchestrationSettings): Slots {
  const slots = providers.slots()
  return slots ?? { total: s.maxConcurrentTasks, free: s.maxConcurrentTasks }
}

/** What this node advertises now, from its mode, settings and the providers' live figures. */
export function localAdvert(
  mode: RuntimeMode,
  s: OrchestrationSettings,
  p: MeshProviders,
  addrs: string[],
  relays = false,
): AdvertContent {
  return {
    region: s.region,
    roles: rolesFor(mode, s),
    models: p.models(),
    provider: p.provider(),
    slots: slotsOf(p, s),
    queueDepth: p.queueDepth(),
    load: Math.round(Math.max(0, p.load()) * 100) / 100,
    power: powerStateOf(s, new Date()),
    addrs,
    chainHead: p.chainHead(),
    ...(relays ? { relayPrice: p.relayPrice() } : {}),
  }
}
