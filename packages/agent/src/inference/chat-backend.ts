import type {
  ChatOptions,
  ChatRequest,
  ChatResult,
  EmbedResult,
  LoadedModelInfo,
  ModelInfo,
} from './types.ts'

/**
 * What the IDE-facing endpoints (OpenAI and Ollama dialects) need: the models reachable from
 * this node and a way to run a chat on one. Served locally when this node has the model; routing
 * (`MeshChatBackend`) sends it to a peer that has it otherwise.
 */
export interface ChatBackend {
  listModels(): Promise<ModelInfo[]>
  chat(req: ChatRequest, opts?: ChatOptions): Promise<ChatResult>
  /** Embedding vectors, one per input. */
  embed(model: string | undefined, inputs: string[], signal?: AbortSignal): Promise<EmbedResult>
  /** Loads a model and resolves with its name once it can answer at once. */
  load(model: string | undefined): Promise<string>
  /** The models in this node's memory. */
  loadedModels(): Promise<LoadedModelInfo[]>
}
