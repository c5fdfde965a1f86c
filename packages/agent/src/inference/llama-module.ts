/**
 * node-llama-cpp, loaded on first use. Importing it costs about 180 ms and 45 MB, which a node
 * without a local model (a coordinator, or one serving through Ollama) should never pay.
 */
let loading: Promise<typeof import('node-llama-cpp')> | undefined

export function llamaModule(): Promise<typeof import('node-llama-cpp')> {
  loading ??= import('node-llama-cpp')
  return loading
}
