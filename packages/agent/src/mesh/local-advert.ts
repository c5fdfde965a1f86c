import { availableParallelism, loadavg } from 'node:os'
import type {
  AdvertModel,
  NodeRole,
  OrchestrationSettings,
  PowerState,
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
  chainHead(): { seq: number; hash: string } | null
}

export const DEFAULT_PROVIDERS: MeshProviders = {
  models: () => [],
  provider: () => null,
  slots: () => null,
  queueDepth: () => 0,
  load: () => loadavg()[0]! / availableParallelism(),
  chainHead: () => null,
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
  }
}
