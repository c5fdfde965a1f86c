/** Who wrote a chat message. */
export type ChatRole = 'system' | 'user' | 'assistant'

/** One turn of a conversation. */
export interface ChatMessage {
  role: ChatRole
  content: string
}

/** A chat completion request, in the vocabulary shared by Ollama and OpenAI-style servers. */
export interface ChatRequest {
  /** Model name as listed by {@link Provider.listModels}; the provider's default model when absent. */
  model?: string
  /** The conversation so far; a trailing assistant message is continued rather than answered. */
  messages: ChatMessage[]
  /** Upper bound on generated tokens; the room left in the context when absent. */
  maxTokens?: number
  /** Sampling temperature; 0 is greedy decoding. */
  temperature?: number
  /** Nucleus sampling threshold in (0, 1]. */
  topP?: number
  /** Seed for sampling, so that a request can be replayed. */
  seed?: number
  /** Generation ends (without the stop text) when any of these appears. */
  stop?: string[]
  /** Constrains the reply to JSON matching this JSON schema (grammar-constrained decoding). */
  format?: JsonSchema
  /**
   * Constrains the reply to this GBNF grammar (llama.cpp's grammar notation); not with `format`.
   * The embedded provider honours it; Ollama's and OpenAI's APIs have no such field, so those
   * providers generate unconstrained and callers must still check what comes back.
   */
  grammar?: string
  /**
   * A raw completion instead of a chat: `prompt` is continued as is, no chat template, and
   * `messages` are ignored. With `suffix`, the text between the two is filled in.
   */
  completion?: { prompt: string; suffix?: string }
  /** Tokens the request may use (prompt and reply), below the served context: Ollama's `num_ctx`. */
  contextSize?: number
}

/** A JSON schema, as OpenAI's `response_format` and Ollama's `format` carry it. */
export type JsonSchema = Record<string, unknown>

/** Embedding vectors for a batch of inputs. */
export interface EmbedResult {
  model: string
  embeddings: number[][]
  promptTokens: number
}

/** Per-call controls that are not part of the request itself. */
export interface ChatOptions {
  /** Aborting ends generation promptly; the result then has `finishReason: 'cancelled'`. */
  signal?: AbortSignal
  /** Receives generated text as it is produced; the pieces concatenate to `ChatResult.text`. */
  onToken?: (text: string) => void
}

/**
 * Why generation ended: the model or a stop sequence ended it, the token limit was reached,
 * or the caller (or a provider shutdown) cancelled it.
 */
export type FinishReason = 'stop' | 'length' | 'cancelled'

/** The outcome of one chat request, with the measurements the mesh reports and bills by. */
export interface ChatResult {
  text: string
  /** The model that actually answered. */
  model: string
  /** Tokens of the whole rendered prompt, chat template included. */
  promptTokens: number
  completionTokens: number
  finishReason: FinishReason
  /** From the call to the first generated token, including any queueing and model load; null if none came. */
  timeToFirstTokenMs: number | null
  /** From the call to the result. */
  durationMs: number
  /** Decode rate: tokens after the first over the time after the first (prompt evaluation excluded). */
  tokensPerSecond: number
}

/** What a provider knows about one model it can serve. */
export interface ModelInfo {
  /** The name requests use. */
  name: string
  sizeBytes: number
  /** Architecture family, e.g. `gemma3`. */
  family: string | null
  /** Parameter count label, e.g. `270M`. */
  parameters: string | null
  /** Quantization, e.g. `Q4_K_M`. */
  quantization: string | null
  /** Context length the model was trained for. */
  contextLength: number | null
  /** Tokens a request can hold where the model is served; the trained length when unknown. */
  servedContext?: number | null
  /** `general.basename` of the GGUF header, e.g. `gemma-3`. */
  basename?: string | null
  /** The model has fill-in-the-middle tokens. */
  fim?: boolean
  /** Local file, when the model is one. */
  path: string | null
}

/** A snapshot of what a provider is doing, for `/model/status` and the node's advert. */
export interface ProviderStatus {
  provider: string
  /** The model in use (last used, else the default); null when there is none. */
  activeModel: string | null
  /** Whether the active model is in memory. */
  loaded: boolean
  /** Context size in tokens of the loaded model's context. */
  contextSize: number | null
  /** Estimated memory held for the active model (weights and context), in bytes. */
  memoryBytes: number | null
  /** Decode rate of the most recent completed request. */
  lastTokensPerSecond: number | null
  /** Requests generating now. */
  running: number
  /** Requests waiting for a free slot. */
  queued: number
}

/**
 * A source of chat completions: embedded llama.cpp, Ollama, or an OpenAI-compatible server.
 * Implementations load lazily: `chat` works without a prior `start`, which only surfaces
 * setup problems early. `stop` cancels what is running and frees resources; a later call
 * starts again.
 */
export interface Provider {
  readonly name: string
  start(): Promise<void>
  stop(): Promise<void>
  listModels(): Promise<ModelInfo[]>
  /**
   * Runs one chat completion.
   * @throws ModelNotFoundError when the model is unknown
   * @throws ContextOverflowError when the prompt does not fit the context
   * @throws InvalidChatRequestError when the request is malformed
   */
  chat(req: ChatRequest, opts?: ChatOptions): Promise<ChatResult>
  status(): Promise<ProviderStatus>
  /**
   * Embeds each input with the model; absent where the provider can't embed.
   * @throws ModelNotFoundError when the model is unknown
   */
  embed?(model: string | undefined, inputs: string[], signal?: AbortSignal): Promise<EmbedResult>
  /** Loads the model, if not loaded, and returns once it is: Ollama's empty-prompt generate. */
  load?(model: string | undefined): Promise<string>
  /** The models in memory now, for `/api/ps`. */
  loadedModels?(): Promise<LoadedModelInfo[]>
}

/** A model in memory. */
export interface LoadedModelInfo {
  name: string
  sizeBytes: number
  memoryBytes: number
  contextSize: number
}
