import { z } from 'zod'

/** Languages the sandbox runs: Python in Pyodide, JavaScript in QuickJS. */
export const TaskLanguage = z.enum(['python', 'javascript'])
export type TaskLanguage = z.infer<typeof TaskLanguage>

/** Who a task is for; the fair-share queue gives each submitter its own share. */
export const Submitter = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@/-]*$/, 'a submitter is letters, digits and . _ : @ / -')

/** A priority weighs a task within the fair share; it never lets one submitter starve another. */
export const TaskPriority = z.enum(['low', 'normal', 'high'])
export type TaskPriority = z.infer<typeof TaskPriority>

export const TaskKind = z.enum(['code', 'run', 'chat', 'embed'])
export type TaskKind = z.infer<typeof TaskKind>

export const TaskStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled'])
export type TaskStatus = z.infer<typeof TaskStatus>

/** Statuses a task never leaves. */
export const FINAL_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled']

const Code = z.string().max(256 * 1024)

export const ChatMessage = z
  .object({
    role: z.enum(['system', 'user', 'assistant']),
    content: z.string().max(64 * 1024),
  })
  .strict()
export type ChatMessage = z.infer<typeof ChatMessage>

const Common = {
  submitter: Submitter.default('local'),
  priority: TaskPriority.default('normal'),
}

/** A model writes code for `prompt`, the sandbox runs it against `tests`, failures go back to the model. */
export const CodeTaskSpec = z
  .object({
    kind: z.literal('code'),
    language: TaskLanguage,
    prompt: z
      .string()
      .min(1)
      .max(32 * 1024),
    tests: Code.optional(),
    maxAttempts: z.number().int().min(1).max(10).default(8),
    /** Ask the model for a short plan before the first attempt. */
    plan: z.boolean().default(true),
    /** Tokens the model may write per attempt. */
    maxTokens: z.number().int().min(16).max(8192).default(512),
    temperature: z.number().min(0).max(2).optional(),
    seed: z.number().int().min(0).optional(),
    ...Common,
  })
  .strict()
export type CodeTaskSpec = z.infer<typeof CodeTaskSpec>

/** Given code and tests run in the sandbox; no model, so the result is deterministic. */
export const RunTaskSpec = z
  .object({
    kind: z.literal('run'),
    language: TaskLanguage,
    code: Code,
    tests: Code.default(''),
    deadlineMs: z.number().int().min(100).max(120_000).optional(),
    ...Common,
  })
  .strict()
export type RunTaskSpec = z.infer<typeof RunTaskSpec>

/** Messages in, a completion out, streamed token by token. */
export const ChatTaskSpec = z
  .object({
    kind: z.literal('chat'),
    messages: z.array(ChatMessage).min(1).max(200),
    model: z.string().min(1).max(256).optional(),
    maxTokens: z.number().int().min(1).max(8192).default(512),
    temperature: z.number().min(0).max(2).optional(),
    seed: z.number().int().min(0).optional(),
    stop: z.array(z.string().min(1).max(64)).max(8).optional(),
    /** Constrain the reply to JSON matching this JSON schema (tool calls, structured output). */
    format: z
      .record(z.string(), z.unknown())
      .refine((v) => JSON.stringify(v).length <= 32 * 1024, 'format: at most 32 KiB of JSON schema')
      .optional(),
    /** A raw completion of `prompt` (no chat template; fill-in-the-middle with `suffix`); `messages` are then ignored. */
    completion: z
      .object({
        prompt: z.string().max(256 * 1024),
        suffix: z
          .string()
          .max(256 * 1024)
          .optional(),
      })
      .strict()
      .optional(),
    /** Tokens the request may use in all, below the executor's served context (Ollama's num_ctx). */
    contextSize: z.number().int().min(1).max(1_048_576).optional(),
    ...Common,
  })
  .strict()
export type ChatTaskSpec = z.infer<typeof ChatTaskSpec>

/** Inputs one embed task may carry; a client's larger batch is split into several tasks. */
export const EMBED_MAX_INPUTS = 16
/** The inputs of one embed task as JSON, at most: the offer stays far below the frame cap. */
export const EMBED_MAX_INPUT_JSON = 1024 * 1024
/** Dimensions of one vector: with 16 inputs, a result (about 3 MB of JSON at worst) fits the 4 MiB frame cap. */
export const EMBED_MAX_DIMENSIONS = 8192

/** Texts in, one embedding vector per text out (in the result's `embeddings`), no tokens streamed. */
export const EmbedTaskSpec = z
  .object({
    kind: z.literal('embed'),
    model: z.string().min(1).max(256).optional(),
    inputs: z
      .array(z.string().max(64 * 1024))
      .min(1)
      .max(EMBED_MAX_INPUTS)
      .refine((a) => JSON.stringify(a).length <= EMBED_MAX_INPUT_JSON, 'inputs: at most 1 MiB of JSON'),
    ...Common,
  })
  .strict()
export type EmbedTaskSpec = z.infer<typeof EmbedTaskSpec>

/**
 * The most input tokens an embed task can count: a token covers at least one UTF-8 byte, plus
 * two special tokens per input. It caps the quote and what a submitter agrees to pay.
 */
export function embedTokenBound(spec: EmbedTaskSpec): number {
  const utf8 = new TextEncoder()
  return spec.inputs.reduce((n, s) => n + utf8.encode(s).length + 2, 0)
}

/** The body of `POST /tasks`. */
export const TaskSpec = z.discriminatedUnion('kind', [CodeTaskSpec, RunTaskSpec, ChatTaskSpec, EmbedTaskSpec])
export type TaskSpec = z.infer<typeof TaskSpec>
/** What a client sends: defaults (submitter, priority, attempts...) may be left out. */
export type TaskSpecInput = z.input<typeof TaskSpec>

/** What the sandbox reported for one run of code against tests. */
export const TestReport = z.object({
  language: TaskLanguage,
  ok: z.boolean(),
  outcome: z.enum(['passed', 'failed', 'error', 'timeout', 'memory', 'output-limit', 'cancelled']),
  passed: z.number().int(),
  failed: z.number().int(),
  total: z.number().int(),
  output: z.string(),
  error: z.string().optional(),
  durationMs: z.number(),
})
export type TestReport = z.infer<typeof TestReport>

export const TokenCounts = z.object({ prompt: z.number().int(), completion: z.number().int() })
export type TokenCounts = z.infer<typeof TokenCounts>

/** One round of the code loop: what the model wrote and what the sandbox made of it. */
export const TaskAttempt = z.object({
  n: z.number().int().min(1),
  /** The model's whole answer, from which `code` was extracted. */
  response: z.string(),
  code: z.string(),
  report: TestReport,
  tokens: TokenCounts,
  modelMs: z.number(),
  sandboxMs: z.number(),
  /** Why generation ended: `stop` (the code ended) or `length` (the token budget ran out). */
  finishReason: z.string().optional(),
  /** Tokens the model was allowed for this attempt. */
  budget: z.number().int().optional(),
  /** What was cut from the end of the model's code because it did not parse or was cut off. */
  droppedTail: z.string().optional(),
  /** The earlier attempt whose code this one repeated; the code was not run again. */
  repeatOf: z.number().int().optional(),
  /** Why the attempt failed, in one line; absent when it passed. */
  failure: z.string().optional(),
  /** The plan of the round this attempt opened (each round plans afresh); absent on retries. */
  plan: z.string().optional(),
})
export type TaskAttempt = z.infer<typeof TaskAttempt>

export const TaskDurations = z.object({
  /** From submission to the last start (includes time lost to an interruption). */
  queuedMs: z.number(),
  /** From the last start to the end. */
  runMs: z.number(),
  modelMs: z.number(),
  sandboxMs: z.number(),
})

/** Why a task failed or was cancelled; `code` is stable. */
export const TaskError = z.object({ code: z.string(), message: z.string() })
export type TaskError = z.infer<typeof TaskError>

export const TaskResult = z.object({
  /** The final code: the last attempt's for `code`, the given code for `run`. */
  code: z.string().nullable(),
  /** The sandbox's report on the final code. */
  report: TestReport.nullable(),
  attempts: z.array(TaskAttempt),
  /** The plan the model wrote before coding (`code` tasks). */
  plan: z.string().nullable(),
  /** The completion (`chat` tasks). */
  text: z.string().nullable(),
  finishReason: z.string().nullable(),
  model: z.string().nullable(),
  tokens: TokenCounts,
  durations: TaskDurations,
  /** One vector per input, in order (`embed` tasks); `tokens.prompt` counts the inputs' tokens. */
  embeddings: z.array(z.array(z.number()).min(1).max(EMBED_MAX_DIMENSIONS)).max(EMBED_MAX_INPUTS).optional(),
})
export type TaskResult = z.infer<typeof TaskResult>

/** What happened to a task on its way to an executor; `chosen` carries the reasons for the choice. */
export const RouteEvent = z.enum([
  'chosen',
  'accepted',
  'declined',
  'lost',
  'stalled',
  'completed',
  'failed',
  'cancelled',
])
export type RouteEvent = z.infer<typeof RouteEvent>

/** One step of a task's route (the delegation history): a choice, an answer or a loss, with its reasons. */
export const RouteHop = z.object({
  at: z.string(),
  /** The run of the task this step belongs to. */
  attempt: z.number().int().min(1),
  /** The executor concerned: this node itself or a peer. */
  peerId: z.string(),
  local: z.boolean(),
  /** The relay the stream to the executor went through, when it was reachable only that way. */
  via: z.string().nullable(),
  event: RouteEvent,
  reasons: z.array(z.string().max(256)).max(16),
  /** The executor's score when it was chosen. */
  score: z.number().nullable(),
})
export type RouteHop = z.infer<typeof RouteHop>

/** Where a task runs (or ran): this node, or a peer with the id of its copy there. */
export const TaskExecutorRef = z.object({
  peerId: z.string(),
  local: z.boolean(),
  attempt: z.number().int().min(1),
  /** The id of the executor's copy of the task; null when it ran here. */
  taskId: z.string().nullable(),
})
export type TaskExecutorRef = z.infer<typeof TaskExecutorRef>

/** On an executor, the task it runs for a peer: who submitted it, under which id, which attempt. */
export const TaskOrigin = z.object({
  peerId: z.string(),
  taskId: z.string(),
  attempt: z.number().int().min(1),
})
export type TaskOrigin = z.infer<typeof TaskOrigin>

/** A task as the store keeps it and the API returns it. */
export const TaskRecord = z.object({
  id: z.string(),
  kind: TaskKind,
  submitter: z.string(),
  priority: TaskPriority,
  status: TaskStatus,
  spec: TaskSpec,
  result: TaskResult.nullable(),
  error: TaskError.nullable(),
  /** Times the task was started; more than 1 after an interruption. */
  runs: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  updatedAt: z.string(),
  /** Where the task runs or ran last; null while it waits for its first placement. */
  executor: TaskExecutorRef.nullable(),
  /** Every choice, answer and loss on its way to an executor, oldest first. */
  route: z.array(RouteHop),
  /** Set when a peer submitted the task and this node runs it. */
  origin: TaskOrigin.nullable(),
})
export type TaskRecord = z.infer<typeof TaskRecord>

export const TaskAccepted = z.object({ id: z.string(), status: TaskStatus })

export const TaskListQuery = z
  .object({
    status: TaskStatus.optional(),
    submitter: Submitter.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    /** The `nextCursor` of the previous page. */
    cursor: z
      .string()
      .regex(/^\d{1,15}$/, 'a cursor is the nextCursor of a previous page')
      .optional(),
  })
  .strict()
export type TaskListQuery = z.infer<typeof TaskListQuery>

export const TaskList = z.object({ tasks: z.array(TaskRecord), nextCursor: z.string().nullable() })
export type TaskList = z.infer<typeof TaskList>

/**
 * The SSE event names of `GET /tasks/:id/events`, each also on the node's bus as `task-<name>`.
 * `routed` carries one step of the route (a {@link RouteHop}).
 */
export const TaskEventType = z.enum([
  'queued',
  'routed',
  'started',
  'token',
  'attempt',
  'test-result',
  'done',
])
export type TaskEventType = z.infer<typeof TaskEventType>

/** One event of a task's life; `seq` counts from 1 per task, so a client can tell replay from live. */
export const TaskEvent = z.object({
  taskId: z.string(),
  seq: z.number().int(),
  type: TaskEventType,
  at: z.string(),
  data: z.record(z.string(), z.unknown()),
})
export type TaskEvent = z.infer<typeof TaskEvent>
