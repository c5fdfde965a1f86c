import { z } from 'zod'
import { PriceQuote } from './ledger.ts'
import { TaskAttempt, TaskError, TaskResult, TaskSpec, TestReport } from './tasks.ts'

/**
 * The task protocol: one direct libp2p stream per attempt of a task, from the node that holds
 * the task (the submitter) to the node that runs it (the executor). Frames are length-prefixed
 * JSON. The submitter sends a signed offer; the executor accepts or declines, then streams
 * heartbeats, progress events and finally the result. The submitter may send `cancel` at any time.
 */
export const TASK_PROTOCOL = '/edgecoder/task/1.0.0'

/** Domain tag of offer signatures (see `signingBytes`). */
export const TASK_OFFER_SIGNING_DOMAIN = 'task-offer'

/** The largest frame either side accepts: a result with ten attempts and their reports fits. */
export const TASK_FRAME_MAX_BYTES = 4 * 1024 * 1024

/** The longest an offer may stay valid: a replay has at most this long to find a node that forgot it. */
export const TASK_OFFER_MAX_TTL_MS = 120_000

const PeerIdText = z.string().min(1).max(128)

/** What the submitter proposes: run this attempt of this task, for me, on you, before it expires. */
export const TaskOfferBody = z
  .object({
    v: z.literal(1),
    taskId: z.string().min(1).max(128),
    attempt: z.number().int().min(1).max(10_000),
    /** The submitting node; it signs the offer and must be the peer on the other end of the stream. */
    origin: PeerIdText,
    /** The node the offer is for: an offer can't be taken to another executor. */
    executor: PeerIdText,
    spec: TaskSpec,
    /** How often the executor sends a heartbeat; silence for a few of them means a stall. */
    heartbeatMs: z.number().int().min(100).max(60_000),
    /** Random, never reused: a second offer with the same nonce is a replay. */
    nonce: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'a nonce is 16 to 64 base64url characters'),
    issuedAt: z.number().int().min(0),
    expiresAt: z.number().int().min(0),
  })
  .strict()
export type TaskOfferBody = z.infer<typeof TaskOfferBody>

/** An offer as it travels: the body and the submitter's Ed25519 signature (base64url) over it. */
export const SignedTaskOffer = z.object({ body: TaskOfferBody, sig: z.string().min(1).max(256) }).strict()
export type SignedTaskOffer = z.infer<typeof SignedTaskOffer>

/** Why an executor declined an offer; `busy`, `paused` and `stopping` are worth trying again later. */
export const DeclineReason = z.enum([
  'busy',
  'paused',
  'stopping',
  'not-worker',
  'no-model',
  'misaddressed',
  'forged',
  'replayed',
  'expired',
  'malformed',
  /** The submitter's chain shows it could not pay the quote, or it forked its chain. */
  'credit',
])
export type DeclineReason = z.infer<typeof DeclineReason>

/** A progress event of the executor's run, forwarded as the submitter's own task events. */
export const TaskWireEvent = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('token'),
      text: z.string().max(64 * 1024),
      phase: z.enum(['plan', 'code', 'chat']),
      attempt: z.number().int().min(1).nullable(),
    })
    .strict(),
  z
    .object({ type: z.literal('attempt'), attempt: TaskAttempt.omit({ report: true, sandboxMs: true }) })
    .strict(),
  z
    .object({
      type: z.literal('test-result'),
      attempt: z.number().int().min(1).nullable(),
      report: TestReport,
    })
    .strict(),
])
export type TaskWireEvent = z.infer<typeof TaskWireEvent>

const Ids = { taskId: z.string().min(1).max(128), attempt: z.number().int().min(1) }

/** Submitter to executor. */
export const SubmitterFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('offer'), offer: SignedTaskOffer }).strict(),
  z.object({ type: z.literal('cancel'), reason: z.string().max(256) }).strict(),
])
export type SubmitterFrame = z.infer<typeof SubmitterFrame>

/** Executor to submitter. */
export const ExecutorFrame = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('accept'),
      ...Ids,
      /** The id of the executor's copy of the task. */
      executorTaskId: z.string().min(1).max(128),
      /** The executor's price for this attempt; absent from nodes that don't charge. */
      quote: PriceQuote.optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('decline'),
      ...Ids,
      reason: DeclineReason,
      message: z.string().max(1024),
      retryAfterMs: z.number().int().min(0).max(3_600_000).nullable(),
    })
    .strict(),
  z.object({ type: z.literal('heartbeat'), state: z.enum(['queued', 'running']) }).strict(),
  z.object({ type: z.literal('event'), event: TaskWireEvent }).strict(),
  z
    .object({
      type: z.literal('result'),
      ...Ids,
      status: z.enum(['succeeded', 'failed', 'cancelled']),
      result: TaskResult.nullable(),
      error: TaskError.nullable(),
    })
    .strict(),
])
export type ExecutorFrame = z.infer<typeof ExecutorFrame>
