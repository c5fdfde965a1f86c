import type {
  ChatMessage,
  RouteHop,
  TaskExecutorRef,
  TaskLanguage,
  TaskRecord,
  TestReport,
} from '@edgecoder/protocol'
import type { TaskOutcome, TaskProgress } from './outcome.ts'

/** A run of code against tests, as the sandbox takes it. */
export interface SandboxRequest {
  language: TaskLanguage
  code: string
  tests?: string
  deadlineMs?: number
}

/** What the task engine needs from the sandbox pool. */
export interface TaskSandbox {
  run(req: SandboxRequest, signal?: AbortSignal): Promise<TestReport>
}

export interface ModelRequest {
  model?: string
  messages: ChatMessage[]
  maxTokens?: number
  temperature?: number
  seed?: number
  stop?: string[]
  /** JSON schema the reply must match. */
  format?: Record<string, unknown>
  /** GBNF grammar the reply must match, where the provider supports grammars (embedded llama.cpp). */
  grammar?: string
  /** A raw completion (fill-in-the-middle with `suffix`) instead of a chat. */
  completion?: { prompt: string; suffix?: string }
  /** Tokens the request may use in all. */
  contextSize?: number
}

export interface ModelReply {
  text: string
  model: string
  promptTokens: number
  completionTokens: number
  /** `cancelled` when the signal ended generation early. */
  finishReason: string
  durationMs: number
}

/** Embedding vectors, one per input, and the tokens the inputs took. */
export interface EmbedReply {
  model: string
  embeddings: number[][]
  promptTokens: number
}

/** What the task engine needs from an inference provider. */
export interface TaskModel {
  chat(
    req: ModelRequest,
    opts?: { signal?: AbortSignal; onToken?: (token: string) => void },
  ): Promise<ModelReply>
  /** Absent where the provider can't embed. */
  embed?(model: string | undefined, inputs: string[], signal?: AbortSignal): Promise<EmbedReply>
}

/** Runs a task on a peer, reporting its progress here; throws `TaskDisplacedError` when the peer lets it go. */
export type RemoteRun = (
  task: TaskRecord,
  progress: TaskProgress,
  signal: AbortSignal,
) => Promise<TaskOutcome>

/** Where the next run of a task goes; `hop` is the choice with its reasons, for the task's route. */
export type Placement =
  | { where: 'local'; hop: RouteHop | null; executor: TaskExecutorRef | null }
  | { where: 'remote'; hop: RouteHop; run: RemoteRun }

/** What the engine asks of routing: where a waiting task should run now. */
export interface TaskRouter {
  /**
   * The place for the task's next run, or null when every node able to run it is busy.
   * `localFree`: this node executes tasks and has a free slot. Must not change any state.
   */
  place(task: TaskRecord, localFree: boolean): Placement | null
  /** Calls `fn` when room may have opened somewhere (a peer's advert, a backoff ending); returns the unsubscribe. */
  onCapacity(fn: () => void): () => void
}
