import {
  type ChatTaskSpec,
  EMBED_MAX_DIMENSIONS,
  type EmbedTaskSpec,
  type RunTaskSpec,
} from '@edgecoder/protocol'
import { emptyResult, passed, type TaskOutcome, type TaskProgress } from './outcome.ts'
import type { TaskModel, TaskSandbox } from './ports.ts'

/** A `run` task: the given code against the given tests in the sandbox, no model. */
export async function runInSandbox(
  spec: RunTaskSpec,
  sandbox: TaskSandbox,
  progress: TaskProgress,
  signal: AbortSignal,
): Promise<TaskOutcome> {
  const report = await sandbox.run(
    { language: spec.language, code: spec.code, tests: spec.tests, deadlineMs: spec.deadlineMs },
    signal,
  )
  signal.throwIfAborted()
  progress.testResult(null, report)
  const ok = passed(report)
  return {
    status: ok ? 'succeeded' : 'failed',
    error: ok
      ? null
      : {
          code: report.outcome === 'failed' ? 'tests_failed' : `sandbox_${report.outcome.replace('-', '_')}`,
          message:
            report.outcome === 'failed'
              ? `${report.failed} of ${report.total} tests failed`
              : `the code ended in ${report.outcome}${report.error ? `: ${report.error}` : ''}`,
        },
    result: { ...emptyResult(), code: spec.code, report },
    modelMs: 0,
    sandboxMs: report.durationMs,
  }
}

/** A `chat` task: one completion, its tokens streamed as they come. */
export async function runChat(
  spec: ChatTaskSpec,
  model: TaskModel,
  progress: TaskProgress,
  signal: AbortSignal,
): Promise<TaskOutcome> {
  const reply = await model.chat(
    {
      model: spec.model,
      messages: spec.messages,
      maxTokens: spec.maxTokens,
      temperature: spec.temperature,
      seed: spec.seed,
      stop: spec.stop,
      format: spec.format,
      completion: spec.completion,
      contextSize: spec.contextSize,
    },
    { signal, onToken: (t) => progress.token(t, 'chat', null) },
  )
  signal.throwIfAborted()
  return {
    status: 'succeeded',
    error: null,
    result: {
      ...emptyResult(),
      text: reply.text,
      finishReason: reply.finishReason,
      model: reply.model,
      tokens: { prompt: reply.promptTokens, completion: reply.completionTokens },
    },
    modelMs: reply.durationMs,
    sandboxMs: 0,
  }
}

/** An `embed` task: one vector per input, in order; nothing is streamed. */
export async function runEmbed(
  spec: EmbedTaskSpec,
  model: TaskModel,
  signal: AbortSignal,
): Promise<TaskOutcome> {
  if (model.embed === undefined)
    return {
      status: 'failed',
      error: { code: 'embedding_unsupported', message: 'the model of this node does not embed' },
      result: emptyResult(),
      modelMs: 0,
      sandboxMs: 0,
    }
  const t0 = performance.now()
  const reply = await model.embed(spec.model, spec.inputs, signal)
  signal.throwIfAborted()
  const modelMs = Math.round(performance.now() - t0)
  const dims = reply.embeddings[0]?.length ?? 0
  // The result must fit the task protocol's schema, or the submitter could not read it.
  if (reply.embeddings.length !== spec.inputs.length || dims === 0 || dims > EMBED_MAX_DIMENSIONS)
    return {
      status: 'failed',
      error: {
        code: 'embedding_unsupported',
        message: `${reply.model} gave ${reply.embeddings.length} vectors of ${dims} dimensions for ${spec.inputs.length} inputs (at most ${EMBED_MAX_DIMENSIONS} dimensions travel)`,
      },
      result: { ...emptyResult(), model: reply.model },
      modelMs,
      sandboxMs: 0,
    }
  return {
    status: 'succeeded',
    error: null,
    result: {
      ...emptyResult(),
      model: reply.model,
      tokens: { prompt: reply.promptTokens, completion: 0 },
      embeddings: reply.embeddings,
    },
    modelMs,
    sandboxMs: 0,
  }
}
