import type { ChatMessage, TaskLanguage, TestReport } from '@edgecoder/protocol'

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

/** What the task engine needs from an inference provider. */
export interface TaskModel {
  chat(
    req: ModelRequest,
    opts?: { signal?: AbortSignal; onToken?: (token: string) => void },
  ): Promise<ModelReply>
}
