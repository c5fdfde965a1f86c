/**
 * Base of every inference failure. `code` is stable and safe to show to API clients;
 * the API maps it to a status (e.g. `model_not_found` to 404).
 */
export class InferenceError extends Error {
  override name = 'InferenceError'
  readonly code: string = 'inference_error'
}

/** The requested model is not one the provider can serve. */
export class ModelNotFoundError extends InferenceError {
  override name = 'ModelNotFoundError'
  override readonly code = 'model_not_found'
  readonly model: string
  readonly available: string[]

  constructor(model: string, available: string[]) {
    const known = available.length > 0 ? available.join(', ') : 'none'
    super(`model "${model}" not found (available: ${known})`)
    this.model = model
    this.available = available
  }
}

/** The rendered prompt leaves no room to generate within the model's context. */
export class ContextOverflowError extends InferenceError {
  override name = 'ContextOverflowError'
  override readonly code = 'context_overflow'
  readonly promptTokens: number
  readonly contextSize: number

  constructor(promptTokens: number, contextSize: number) {
    super(`prompt is ${promptTokens} tokens; the context holds ${contextSize}, with at least 1 for the reply`)
    this.promptTokens = promptTokens
    this.contextSize = contextSize
  }
}

/** The request itself is malformed (no messages, bad role, out-of-range parameter). */
export class InvalidChatRequestError extends InferenceError {
  override name = 'InvalidChatRequestError'
  override readonly code = 'invalid_request'
}

/** A model file exists but could not be read or loaded (not GGUF, truncated, too large for memory). */
export class ModelLoadError extends InferenceError {
  override name = 'ModelLoadError'
  override readonly code = 'model_load_failed'
  readonly path: string

  constructor(path: string, cause: unknown) {
    super(`cannot load model ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    this.path = path
  }
}

/** The llama.cpp binary for this platform is missing; it is never built or downloaded at run time. */
export class LlamaRuntimeUnavailableError extends InferenceError {
  override name = 'LlamaRuntimeUnavailableError'
  override readonly code = 'runtime_unavailable'

  constructor(cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause)
    super(
      `no prebuilt llama.cpp binary for ${process.platform}-${process.arch} (is @node-llama-cpp/${process.platform}-${process.arch} installed?): ${detail}`,
      { cause },
    )
  }
}

/** The provider or model can't do what was asked (embed, fill in the middle). */
export class UnsupportedCapabilityError extends InferenceError {
  override name = 'UnsupportedCapabilityError'
  override readonly code = 'unsupported'
}
