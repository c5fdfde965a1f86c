import type { TestReport } from '@edgecoder/protocol'
import type {
  ModelReply,
  ModelRequest,
  SandboxRequest,
  TaskModel,
  TaskSandbox,
} from '../../src/tasks/index.ts'

/**
 * A sandbox stand-in for engine tests: code containing `PASS` passes, anything else fails one of
 * two tests. While `hold` is set, runs wait until released or aborted, like a long program.
 */
export class ScriptedSandbox implements TaskSandbox {
  readonly calls: SandboxRequest[] = []
  hold = false
  running = 0
  #waiters: (() => void)[] = []

  async run(req: SandboxRequest, signal?: AbortSignal): Promise<TestReport> {
    this.calls.push(req)
    this.running++
    try {
      if (this.hold) {
        await new Promise<void>((resolve, reject) => {
          this.#waiters.push(resolve)
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true })
        })
      }
      signal?.throwIfAborted()
      const ok = req.code.includes('PASS')
      return {
        language: req.language,
        ok,
        outcome: ok ? 'passed' : 'failed',
        passed: ok ? 2 : 1,
        failed: ok ? 0 : 1,
        total: 2,
        output: ok ? '2 passed' : 'AssertionError: expected 4, got 5',
        durationMs: 1,
      }
    } finally {
      this.running--
    }
  }

  release(): void {
    this.hold = false
    for (const w of this.#waiters.splice(0)) w()
  }
}

/** One scripted answer: its text, and `length` when it stands for an answer the token limit cut off. */
export type ScriptedAnswer = string | { text: string; finishReason: 'stop' | 'length' }

/** A model stand-in that answers from a script, one answer per call, streaming it in pieces. */
export class ScriptedModel implements TaskModel {
  readonly requests: ModelRequest[] = []
  /** What each call streamed before it ended. */
  readonly streamed: string[] = []
  readonly #answers: ScriptedAnswer[]

  constructor(answers: ScriptedAnswer[]) {
    this.#answers = answers
  }

  async chat(
    req: ModelRequest,
    opts: { signal?: AbortSignal; onToken?: (t: string) => void } = {},
  ): Promise<ModelReply> {
    this.requests.push(req)
    const answer = this.#answers[Math.min(this.requests.length - 1, this.#answers.length - 1)] ?? ''
    const { text, finishReason } =
      typeof answer === 'string' ? { text: answer, finishReason: 'stop' } : answer
    const reply = (out: string, why: string): ModelReply => ({
      text: out,
      model: 'scripted',
      promptTokens: 10,
      completionTokens: Math.ceil(out.length / 4),
      finishReason: why,
      durationMs: 1,
    })
    let sent = ''
    for (const piece of text.match(/.{1,8}/gs) ?? []) {
      // As the providers do: an abort ends generation with what was written so far.
      if (opts.signal?.aborted) {
        this.streamed.push(sent)
        return reply(sent, 'cancelled')
      }
      opts.onToken?.(piece)
      sent += piece
      await new Promise((r) => setImmediate(r))
    }
    this.streamed.push(sent)
    return reply(text, finishReason)
  }
}
