import { subscribeAgentEvents } from './agent-events.ts'
import { AgentApi, AgentApiError } from './api.ts'
import {
  apiBaseUrl,
  onAgentLog,
  onSupervisorSnapshot,
  recentAgentLogs,
  supervisorState,
} from './backend/index.ts'
import { type NodeState, nodeState } from './node-state.ts'
import type {
  AgentLogLine,
  AgentStatus,
  OrchestrationSettings,
  RuntimeHealth,
  SupervisorSnapshot,
} from './types.ts'

const LOG_KEEP = 200
/** The runtime summary (model, provider) has no event of its own yet: refresh it now and then. */
const RUNTIME_REFRESH_MS = 15_000

/**
 * The live view of the local agent: its API's answers, its event stream and, inside the
 * desktop shell, the supervisor's view of the process.
 */
export class AgentConnection {
  api: AgentApi
  runtime = $state<RuntimeHealth | null>(null)
  status = $state<AgentStatus | null>(null)
  settings = $state<OrchestrationSettings | null>(null)
  /** The event stream is open. */
  live = $state(false)
  lastError = $state<string | null>(null)
  supervisor = $state<SupervisorSnapshot | null>(null)
  logs = $state<AgentLogLine[]>([])
  /** When `status` arrived, to let uptime tick between messages. */
  statusAt = $state(0)
  now = $state(Date.now())
  busy = $state(false)

  state: NodeState = $derived.by(() => nodeState(this.supervisor, this.live, this.settings, this.lastError))
  uptimeSec: number = $derived(
    this.status ? this.status.uptimeSec + Math.max(0, this.now - this.statusAt) / 1000 : 0,
  )

  #closers: (() => void)[] = []
  #closeEvents: (() => void) | null = null
  #runtimeTimer: ReturnType<typeof setTimeout> | null = null

  constructor(baseUrl = apiBaseUrl()) {
    this.api = new AgentApi(baseUrl)
  }

  async start(): Promise<void> {
    const tick = setInterval(() => (this.now = Date.now()), 1_000)
    this.#closers.push(() => clearInterval(tick))
    const shell = await supervisorState()
    if (shell) {
      this.api = new AgentApi(shell.apiUrl)
      this.supervisor = shell.snapshot
      this.logs = (await recentAgentLogs()).slice(-LOG_KEEP)
      const offSnap = await onSupervisorSnapshot((s) => this.#supervisorChanged(s))
      const offLog = await onAgentLog((l) => (this.logs = [...this.logs.slice(-(LOG_KEEP - 1)), l]))
      this.#closers.push(offSnap, offLog)
    }
    this.#connect()
  }

  stop(): void {
    this.#closeEvents?.()
    if (this.#runtimeTimer) clearTimeout(this.#runtimeTimer)
    for (const close of this.#closers.splice(0)) close()
  }

  /** Pause or resume taking work from the mesh. */
  async setContributing(contributing: boolean): Promise<void> {
    this.busy = true
    try {
      this.settings = await this.api.updateSettings({ contributing })
      this.lastError = null
    } catch (err) {
      this.lastError = (err as Error).message
    } finally {
      this.busy = false
    }
  }

  async refreshRuntime(): Promise<void> {
    if (this.#runtimeTimer) clearTimeout(this.#runtimeTimer)
    try {
      this.runtime = await this.api.runtime()
      this.lastError = null
    } catch (err) {
      this.lastError = err instanceof AgentApiError ? err.message : String(err)
    }
    this.#runtimeTimer = setTimeout(() => this.refreshRuntime(), RUNTIME_REFRESH_MS)
  }

  #supervisorChanged(s: SupervisorSnapshot): void {
    const restarted = s.ready?.pid !== this.supervisor?.ready?.pid
    this.supervisor = s
    // A new agent process means a new stream; EventSource would retry, but only after a delay.
    if (s.phase === 'running' && restarted) {
      this.lastError = null
      this.#connect()
    }
  }

  #connect(): void {
    this.#closeEvents?.()
    this.#closeEvents = subscribeAgentEvents(this.api.eventsUrl(), {
      open: () => {
        this.live = true
        this.lastError = null
        void this.refreshRuntime()
      },
      lost: () => {
        this.live = false
        this.lastError = `the agent at ${this.api.baseUrl} is not answering; retrying`
      },
      hello: (e) => {
        this.#setStatus(e.status)
        this.settings = e.settings
      },
      status: (s) => this.#setStatus(s),
      settings: (s) => (this.settings = s),
      changed: () => void this.refreshRuntime(),
    })
  }

  #setStatus(s: AgentStatus): void {
    this.status = s
    this.statusAt = Date.now()
    this.now = this.statusAt
  }
}
