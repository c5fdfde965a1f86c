import type { ChatOptions, ChatRequest, ChatResult, ModelInfo } from '../../inference/types.ts'

/**
 * What the IDE-facing endpoints (OpenAI and Ollama dialects) need: the models reachable from
 * this node and a way to run a chat on one. Served locally when this node has the model; routing
 * (`MeshChatBackend`) sends it to a peer that has it otherwise.
 */
export interface ChatBackend {
  listModels(): Promise<ModelInfo[]>
  chat(req: ChatRequest, opts?: ChatOptions): Promise<ChatResult>
}

/** Aborts when the HTTP client goes away, so generation stops with it. */
export function clientGone(
  raw: import('node:http').IncomingMessage,
  res: import('node:http').ServerResponse,
): AbortSignal {
  const ctrl = new AbortController()
  // The request's own 'close' fires once its body is read; the response's tells that the client left.
  const abort = () => {
    if (!res.writableFinished) ctrl.abort(new Error('client disconnected'))
  }
  void raw
  res.on('close', abort)
  return ctrl.signal
}
