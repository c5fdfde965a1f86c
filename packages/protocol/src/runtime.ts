import { z } from 'zod'

export const RuntimeMode = z.enum(['all-in-one', 'coordinator', 'worker'])
export type RuntimeMode = z.infer<typeof RuntimeMode>

export const Reachability = z.enum(['public', 'private', 'unknown'])

/** The line a supervisor waits for on the agent's stdout: `EDGECODER_READY <json>`. */
export const READY_PREFIX = 'EDGECODER_READY '
export const ReadyLine = z.object({
  peerId: z.string(),
  apiUrl: z.string(),
  p2pAddrs: z.array(z.string()),
  pid: z.number().int(),
  version: z.string(),
  dataDir: z.string(),
})
export type ReadyLine = z.infer<typeof ReadyLine>

export const Healthz = z.object({ status: z.literal('ok') })

/**
 * `loading`: every part has started but the model the node serves is still loading into memory
 * (`checks.model` false); answered with 503 like `starting`, so nothing is sent its way before the
 * model can answer. A model that failed to load leaves the node ready with `checks.model` false.
 */
export const Readyz = z.object({
  status: z.enum(['ready', 'starting', 'loading', 'stopping']),
  checks: z.record(z.string(), z.boolean()),
})

/** Credits from this node's own chain: complete pairs and grants only. */
export const Earnings = z.object({
  /** The balance. */
  credits: z.number().int(),
  earned: z.number().int(),
  spent: z.number().int(),
})
export type Earnings = z.infer<typeof Earnings>
/** The sandbox: the OS wall around it, and its processes (memory apart from the agent's). */
export const SandboxRuntime = z.object({
  mechanism: z.enum(['bubblewrap', 'sandbox-exec', 'none']),
  confined: z.boolean(),
  memory: z.enum(['rlimit-data', 'none']),
  detail: z.string(),
  /** Peers' run and code tasks are taken: confined, or the operator allowed it unconfined. */
  peerCodeAllowed: z.boolean(),
  idleMs: z.number().int(),
  queued: z.number().int(),
  processes: z.array(
    z.object({
      language: z.enum(['python', 'javascript']),
      pid: z.number().int().nullable(),
      state: z.enum(['starting', 'warm', 'retiring']),
      rssBytes: z.number().int(),
      runs: z.number().int(),
      inFlight: z.number().int(),
    }),
  ),
})
export type SandboxRuntime = z.infer<typeof SandboxRuntime>

/**
 * Hole punching (DCUtR) as this node saw it: attempts on relayed connections to peers that speak
 * it, and whether a direct connection followed within the attempt's window.
 */
export const HolePunchReport = z.object({
  attempted: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  pending: z.number().int(),
  recent: z.array(
    z.object({
      peerId: z.string(),
      outcome: z.enum(['succeeded', 'failed']),
      at: z.string(),
      ms: z.number().int(),
    }),
  ),
})
export type HolePunchReport = z.infer<typeof HolePunchReport>

export const RuntimeHealth = z.object({
  peerId: z.string(),
  mode: RuntimeMode,
  version: z.string(),
  uptimeSec: z.number(),
  startedAt: z.string(),
  addresses: z.array(z.string()),
  apiUrl: z.string(),
  provider: z.object({ name: z.string(), reason: z.string() }).nullable(),
  model: z.object({ name: z.string(), loaded: z.boolean() }).nullable(),
  peers: z.object({ total: z.number().int(), online: z.number().int() }),
  queue: z.object({ depth: z.number().int(), running: z.number().int() }),
  reachability: Reachability,
  relayReservations: z.number().int(),
  holePunch: HolePunchReport.optional(),
  /** The private DHT: `server` when this node answers DHT queries; DHT servers it knows. */
  dht: z.object({ mode: z.enum(['client', 'server']), routingTable: z.number().int() }).nullable(),
  store: z.object({ ok: z.boolean(), schemaVersion: z.number().int() }),
  contributing: z.boolean(),
  earnings: Earnings,
  /** Resident memory of the agent process alone; the sandbox's processes are in `sandbox`. */
  agentRssBytes: z.number().int().optional(),
  sandbox: SandboxRuntime.optional(),
  /** Server-sent-event streams open now (`/events` and task events together). */
  eventStreams: z.number().int().optional(),
})
export type RuntimeHealth = z.infer<typeof RuntimeHealth>

export const StatusSummary = z.object({
  tasks: z.object({
    completed: z.number().int(),
    failed: z.number().int(),
    running: z.number().int(),
    queued: z.number().int(),
  }),
  queueDepth: z.number().int(),
  earnings: Earnings,
  peers: z.number().int(),
  uptimeSec: z.number(),
  contributing: z.boolean(),
})
export type StatusSummary = z.infer<typeof StatusSummary>
