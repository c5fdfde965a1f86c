export type { ChatBackend } from './chat-backend.ts'
export { type EmbeddedLlamaOptions, EmbeddedLlamaProvider } from './embedded-provider.ts'
export {
  ContextOverflowError,
  InferenceError,
  InvalidChatRequestError,
  LlamaRuntimeUnavailableError,
  ModelLoadError,
  ModelNotFoundError,
  UnsupportedCapabilityError,
} from './errors.ts'
export { modelNameFromPath, readModelInfo } from './gguf-info.ts'
export { llamaRuntimeOptions, loadLlamaRuntime } from './llama-runtime.ts'
export {
  type CatalogEntry,
  catalogModelName,
  DEFAULT_MODEL_HUB,
  findCatalogEntry,
  MODEL_CATALOG,
  SUGGESTED_MODEL,
} from './model-catalog.ts'
export {
  type ManagedModel,
  ModelManager,
  type ModelManagerOptions,
  type ProviderChoice,
} from './model-manager.ts'
export { PullError, type PullProgressEvent } from './model-pull.ts'
export { OllamaError, OllamaProvider } from './ollama-provider.ts'
export { OpenAiCompatibleError, OpenAiCompatibleProvider } from './openai-provider.ts'
export type {
  ChatMessage,
  ChatOptions,
  ChatRequest,
  ChatResult,
  ChatRole,
  EmbedResult,
  FinishReason,
  JsonSchema,
  LoadedModelInfo,
  ModelInfo,
  Provider,
  ProviderStatus,
} from './types.ts'
