import { embedTokenBound, type TaskResult, type TaskSpec } from '@edgecoder/protocol'

/**
 * Tokens an attempt is billed for, the same on both ends of the stream: the non-empty token
 * frames sent, or for an embed (which streams none) the inputs' tokens as the executor counted
 * them, never more than the spec can hold.
 */
export function usedTokens(spec: TaskSpec, tokenFrames: number, result: TaskResult | null): number {
  if (spec.kind !== 'embed') return tokenFrames
  return Math.min(result?.tokens.prompt ?? 0, embedTokenBound(spec))
}
