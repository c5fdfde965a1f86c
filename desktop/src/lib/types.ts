/** Bodies of the agent's local API that the UI reads. */

export interface RuntimeHealth {
  peerId: string
  mode: string
  version: string
  uptimeSec: number
  addresses: string[]
  provider: { name: string; reason: string } | null
  model: { name: string; loaded: boolean } | null
  peers: { total: number; online: number }
  queue: { depth: number; running: number }
  reachability: string
  store: { ok: boolean }
}

export interface AgentStatus {
  tasks: { completed: number; failed: number; running: number; queued: number }
  queueDepth: number
  earnings: { credits: number; earned: number; spent: number }
  peers: number
  uptimeSec: number
}

export type PowerPolicy =
  | { mode: 'always' | 'idle-only' }
  | { mode: 'schedule'; hours: { start: number; end: number } }

export interface OrchestrationSettings {
  maxConcurrentTasks: number
  powerPolicy: PowerPolicy
  coordinatorRole: boolean
  meshToken: string | null
  region: string | null
  contributing: boolean
  /** Entry points dialed besides `--bootstrap` (an invite's addresses), applied at once. */
  bootstrapPeers: string[]
  /** The inference provider asked for; `auto`: Ollama when it answers, else embedded llama.cpp. */
  provider: 'auto' | 'embedded' | 'ollama' | 'openai'
}

/** `GET /events` greets each subscriber with the current state. */
export interface HelloEvent {
  status: AgentStatus
  settings: OrchestrationSettings
}

/** The desktop shell's view of the agent process (absent in a plain browser). */
export interface SupervisorSnapshot {
  phase: 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped'
  pid: number | null
  ready: { peerId: string; apiUrl: string; pid: number; version: string } | null
  restarts: number
  problem: string | null
  restartAtMs: number | null
}

export interface AgentLogLine {
  stream: 'stdout' | 'stderr'
  text: string
}
