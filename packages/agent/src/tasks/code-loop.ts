import type { ChatMessage, CodeTaskSpec, TaskAttempt, TestReport } from '@edgecoder/protocol'
import { codeGrammar } from './code-grammar.ts'
import { completePrefix } from './complete-prefix.ts'
import { extractCode } from './extract-code.ts'
import { diagnose } from './feedback.ts'
import { codeBudget, codeStop, cutAtStop, repeatedRun } from './generation.ts'
import { emptyResult, passed, type TaskOutcome, type TaskProgress } from './outcome.ts'
import type { TaskModel, TaskSandbox } from './ports.ts'
import {
  codeMessages,
  PLAN_PRIMER,
  PLAN_STOP,
  planMessages,
  retryMessages,
  variedMessages,
} from './prompts.ts'

export interface CodeLoopOptions {
  /** Tokens the plan may take. */
  planTokens: number
  /** Wall-clock limit of one sandbox run; the sandbox's default when absent. */
  sandboxDeadlineMs?: number
  /**
   * Constrain each code answer with a grammar (see `codeGrammar`) to one code block of the task's
   * language, where the provider supports grammars; elsewhere the request goes unconstrained.
   */
  grammar: boolean
}

export const CODE_LOOP_DEFAULTS: CodeLoopOptions = { planTokens: 96, grammar: false }

const BASE_TEMPERATURE = 0.2

/**
 * The code loop: plan, write code, run it against the tests in the sandbox, show the model what
 * failed, and try again, up to `maxAttempts`. The result is what the sandbox said about the
 * final code, never what the model claimed: a solution that still fails is reported as failing.
 */
export class CodeLoop {
  readonly #model: TaskModel
  readonly #sandbox: TaskSandbox
  readonly #opts: CodeLoopOptions

  constructor(opts: Partial<CodeLoopOptions>, modules: { model: TaskModel; sandbox: TaskSandbox }) {
    this.#opts = { ...CODE_LOOP_DEFAULTS, ...opts }
    this.#model = modules.model
    this.#sandbox = modules.sandbox
  }

  async run(spec: CodeTaskSpec, progress: TaskProgress, signal: AbortSignal): Promise<TaskOutcome> {
    const result = emptyResult()
    let modelMs = 0
    let sandboxMs = 0
    const tokens = result.tokens

    // Each round plans afresh (when asked to plan) and writes code from the task alone; a failed
    // first answer gets one retry that is shown what broke, then a new round starts. The test
    // model's answers from one plan barely vary (the same wrong code came back with new seeds),
    // while a new plan gave a new answer that passed about as often as the first.
    let round = 0
    const newRound = async (): Promise<ChatMessage[]> => {
      round++
      let plan: string | null = null
      if (spec.plan) {
        const reply = await this.#model.chat(
          {
            messages: planMessages(spec.language, spec.prompt, spec.tests),
            maxTokens: this.#opts.planTokens,
            temperature: spec.temperature ?? BASE_TEMPERATURE,
            seed: spec.seed === undefined ? undefined : spec.seed + round - 1,
            stop: PLAN_STOP,
          },
          { signal, onToken: (t) => progress.token(t, 'plan', null) },
        )
        signal.throwIfAborted()
        modelMs += reply.durationMs
        tokens.prompt += reply.promptTokens
        tokens.completion += reply.completionTokens
        result.model = reply.model
        result.plan = cleanPlan(PLAN_PRIMER + reply.text)
        // A small model's plan often says one thing five times, or asks for prints and example
        // calls the request rules out; fed back, it drowns the task.
        plan = planForPrompt(result.plan)
      }
      return codeMessages(spec.language, spec.prompt, spec.tests, plan)
    }

    let first = await newRound()
    let openedRound = true
    const stops = codeStop(spec.language, spec.tests)
    const grammar = this.#opts.grammar
      ? codeGrammar(spec.language, spec.tests, first.at(-1)!.content)
      : undefined
    const tests = spec.tests ?? ''
    let messages: ChatMessage[] = first
    let cutOff = 0
    let repeats = 0
    let stoppedEarly: string | null = null
    for (let n = 1; n <= spec.maxAttempts; n++) {
      const budget = codeBudget(spec, cutOff)
      // Generation ends early when the model starts repeating one line.
      const halt = new AbortController()
      let streamed = ''
      const onToken = (t: string) => {
        progress.token(t, 'code', n)
        streamed += t
        if (t.includes('\n') && !halt.signal.aborted && repeatedRun(streamed) >= 0) halt.abort()
      }
      const reply = await this.#model.chat(
        {
          messages,
          maxTokens: budget,
          // Hotter sampling made the test model worse (one-sample pass rate 0.64 at 0.2, 0.42 at
          // 0.6): a new seed varies the answer; only a model that repeats itself is warmed up.
          temperature: Math.min(1, (spec.temperature ?? BASE_TEMPERATURE) + 0.2 * repeats),
          seed: spec.seed === undefined ? undefined : spec.seed + n - 1,
          stop: stops,
          ...(grammar === undefined ? {} : { grammar }),
        },
        { signal: AbortSignal.any([signal, halt.signal]), onToken },
      )
      signal.throwIfAborted()
      modelMs += reply.durationMs
      tokens.prompt += reply.promptTokens
      tokens.completion += reply.completionTokens
      result.model = reply.model
      // The repeats are cut off whether generation was stopped for them or ended on its own.
      const repeatAt = repeatedRun(reply.text)
      const repeating = repeatAt >= 0
      const finishReason = repeating ? 'repetition' : reply.finishReason
      result.finishReason = finishReason

      const cutByBudget = finishReason === 'length'
      const truncated = cutByBudget || repeating
      const primer = messages.at(-1)!.content
      const text = repeating ? reply.text.slice(0, repeatAt) : reply.text
      const response = continued(primer, untilStop(text, stops, primer))
      const extracted = extractCode(response, spec.language, tests)
      const repair = extracted
        ? await completePrefix(extracted, spec.language, { truncated, sandbox: this.#sandbox, signal })
        : { code: '' }
      signal.throwIfAborted()
      const code = repair.code
      const earlier = code === '' ? undefined : result.attempts.find((a) => sameCode(a.code, code))
      const written = {
        n,
        response,
        code,
        tokens: { prompt: reply.promptTokens, completion: reply.completionTokens },
        modelMs: reply.durationMs,
        finishReason,
        budget,
        ...(repair.droppedTail === undefined ? {} : { droppedTail: repair.droppedTail.slice(0, TAIL_CHARS) }),
        ...(earlier ? { repeatOf: earlier.n } : {}),
        ...(openedRound && result.plan !== null ? { plan: result.plan } : {}),
      }
      openedRound = false
      progress.attempt(written)

      let report: TestReport
      if (earlier) {
        // The same code gets the same verdict: no need to run it again.
        report = { ...earlier.report, durationMs: 0 }
      } else if (code === '') {
        report = noCodeReport(spec.language, cutByBudget)
      } else {
        report = await this.#sandbox.run(
          { language: spec.language, code, tests, deadlineMs: this.#opts.sandboxDeadlineMs },
          signal,
        )
        signal.throwIfAborted()
      }
      sandboxMs += report.durationMs
      progress.testResult(n, report)
      const diagnosis = diagnose(spec.language, code, tests, report)
      const ok = passed(report)
      if (repeating && !ok) diagnosis.reason = `stopped while repeating one line: ${diagnosis.reason}`
      // Cut off before its code was complete: the next attempt gets more room.
      if (cutByBudget && !ok && (code === '' || (report.outcome === 'error' && !repair.droppedTail))) {
        cutOff++
        if (code !== '')
          diagnosis.reason = `cut off by the token budget (${budget} tokens): ${diagnosis.reason}`
      }
      const attempt: TaskAttempt = {
        ...written,
        report,
        sandboxMs: report.durationMs,
        ...(ok ? {} : { failure: diagnosis.reason }),
      }
      result.attempts.push(attempt)
      if (ok || n === spec.maxAttempts) break
      if (earlier) {
        repeats++
        if (repeats >= MAX_REPEATS) {
          stoppedEarly = `stopped after attempt ${n}: the model gave the same failing code again even when asked for another approach`
          break
        }
        messages = variedMessages(first, diagnosis)
      } else if (messages !== first && code !== '') {
        // A retry shown what broke failed too: a new round rather than a fix of the fix.
        first = await newRound()
        openedRound = true
        messages = first
      } else {
        messages = retryMessages(first, spec.language, code, diagnosis)
      }
    }

    const final = bestAttempt(result.attempts)
    result.code = final?.code ?? null
    result.report = final?.report ?? null
    const ok = final !== undefined && passed(final.report)
    return {
      status: ok ? 'succeeded' : 'failed',
      error: ok ? null : failure(final, result.attempts.length, stoppedEarly),
      result,
      modelMs,
      sandboxMs,
    }
  }
}

/**
 * Repeats the loop tolerates: each asks for another approach, and the fourth stops the loop. At
 * three, two of 100 unseeded runs of the test model stopped with attempts left that new rounds
 * might have used.
 */
const MAX_REPEATS = 4
/** Longest dropped tail kept in an attempt's record. */
const TAIL_CHARS = 2_000

/** Two answers are the same code when they differ only in blank space. */
function sameCode(a: string, b: string): boolean {
  const norm = (c: string) => c.replace(/\s+/g, ' ').trim()
  return norm(a) === norm(b)
}

/**
 * The reply up to the first stop sequence. A provider that answers afresh instead of continuing
 * the primer opens its own fence, which is not where the code ends: cutting starts after it.
 */
function untilStop(text: string, stops: string[], primer: string): string {
  const opening = /^[ \t]*```[\w+#.-]*[ \t]*\n/m.exec(text)
  // After a primer that ends its line (a whole signature), the reply's first line starts a line
  // too: a stop such as `\n    assert name(` has to match there.
  if (!opening) return primer.endsWith('\n') ? cutAtStop(`\n${text}`, stops).slice(1) : cutAtStop(text, stops)
  const start = opening.index + opening[0].length
  return text.slice(0, start) + cutAtStop(text.slice(start), stops)
}

/** The passing attempt, else the one that passed the most tests (the later one on a tie). */
function bestAttempt(attempts: TaskAttempt[]): TaskAttempt | undefined {
  let best: TaskAttempt | undefined
  for (const a of attempts) {
    if (passed(a.report)) return a
    if (!best || a.report.passed >= best.report.passed) best = a
  }
  return best
}

function failure(final: TaskAttempt | undefined, attempts: number, stoppedEarly: string | null) {
  if (!final) return { code: 'no_attempt', message: 'the model produced no attempt' }
  if (stoppedEarly) return { code: 'tests_failed', message: stoppedEarly }
  const r = final.report
  const verdict =
    r.outcome === 'failed'
      ? `${r.failed} of ${r.total} tests still fail`
      : `the code ends in ${r.outcome}${r.error ? ` (${r.error})` : ''}`
  return {
    code: 'tests_failed',
    message: `no attempt passed the tests after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${verdict}`,
  }
}

function noCodeReport(language: CodeTaskSpec['language'], truncated: boolean): TestReport {
  return {
    language,
    ok: false,
    outcome: 'error',
    passed: 0,
    failed: 0,
    total: 0,
    output: '',
    error: truncated
      ? 'the answer was cut off by the token budget before any code was complete; nothing was run'
      : 'no code found in the model answer; nothing was run',
    durationMs: 0,
  }
}

/**
 * The answer as a whole: the primer the loop wrote for the model, then what the model added.
 * Generation stops at a fence, so a reply that holds one comes from a provider that answered
 * afresh instead of continuing the primer: it stands on its own.
 */
function continued(primer: string, reply: string): string {
  return reply.includes('```') ? reply : primer + reply
}

/** A plan is a few distinct steps in prose: drop code, repeated lines and anything past five steps. */
function cleanPlan(text: string): string {
  const lines = text
    .replace(/```[\s\S]*?(```|$)/g, '')
    .replace(/<\/?(start|end)_of_turn>/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
  return [...new Set(lines)].slice(0, 5).join('\n').slice(0, 1_200)
}

/** Plan steps that ask for what the request rules out: output, example calls, tests (the tests are given). */
const OFF_TASK_STEP =
  /\b(print(s|ed|ing)?|display|example|usage|demonstrat\w*|test cases?|unit tests?|(write|add|create) (a |some )?tests?)\b/i

/**
 * The plan as the model is shown it: its steps without those that ask for prints, example calls
 * or tests, renumbered; null when no steps are left or most of them say the same thing.
 */
export function planForPrompt(plan: string): string | null {
  const steps = plan
    .split('\n')
    .map((l) => l.replace(/^\d+[.)]\s*/, '').trim())
    .filter((s) => s !== '')
  if (steps.length === 0 || new Set(steps.map((s) => s.toLowerCase())).size * 2 <= steps.length) return null
  const kept = steps.filter((s) => !OFF_TASK_STEP.test(s))
  if (kept.length === 0) return null
  return [...new Set(kept)].map((s, i) => `${i + 1}. ${s}`).join('\n')
}
