import {
  type DeclineReason,
  type ExecutorFrame,
  FINAL_STATUSES,
  type PriceQuote,
  SubmitterFrame,
  type TaskEvent,
  type TaskOfferBody,
  type TaskRecord,
  type TaskSpec,
  type TaskWireEvent,
  type TestReport,
} from '@edgecoder/protocol'
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import { AdoptionRefusedError, type TaskEngine } from '../tasks/index.ts'
import { FrameChannel, type ReadFrame } from './frames.ts'
import type { OfferNonces } from './nonces.ts'
import { checkOffer } from './offers.ts'
import type { RoutingOptions } from './options.ts'
import type { SettlementPort } from './settlement-port.ts'
import { usedTokens } from './usage.ts'

export interface TaskServiceInit {
  options: RoutingOptions
  selfId: string
  engine: TaskEngine
  nonces: OfferNonces
  /** Why this node can't run the spec (a model it lacks), or null when it can. */
  unableToRun: (spec: TaskSpec) => string | null
  /** Serves `TASK_PROTOCOL` with the handler on the node's libp2p host. */
  register: (handler: StreamHandler) => Promise<void>
  /** Prices offers and bills finished attempts; without it work is done for free. */
  settlement?: SettlementPort
  log: Logger
}

type Channel = FrameChannel<SubmitterFrame, ExecutorFrame>
const noop = () => {}
/** Finished copies whose claims are remembered; a copy is taken up again within seconds if at all. */
const BILLED_KEPT = 1_024

/**
 * The executor's side of the task protocol. An offer that is malformed, misaddressed, forged,
 * expired or replayed is declined and changes nothing; an accepted one becomes a task in this
 * node's fair queue, whose progress streams back until its result. A stream that ends before the
 * result means the submitter gave up: the task is cancelled here.
 */
export class TaskService {
  readonly name = 'task-service'
  readonly #init: TaskServiceInit
  /** The stream currently reporting on each of this node's copies (a retried offer takes over). */
  readonly #attached = new Map<string, Channel>()
  readonly #open = new Set<Channel>()
  /** Results on their way out, which a stop lets finish. */
  readonly #closing = new Set<Promise<void>>()
  /**
   * Each finished copy's claim, stored once: a submitter that took a copy up again after losing
   * its stream gets the result without a second bill.
   */
  readonly #billed = new Map<string, Promise<void>>()
  #stopping = false

  constructor(init: TaskServiceInit) {
    this.#init = init
  }

  /** The libp2p stream handler for `TASK_PROTOCOL`. */
  readonly handle = (stream: Stream, connection: Connection): void => {
    const io: Channel = new FrameChannel(stream, SubmitterFrame)
    this.#open.add(io)
    this.#serve(io, connection.remotePeer.toString())
      .catch((err: Error) => {
        this.#init.log.debug({ err: err.message }, 'task stream ended badly')
        io.abort(err)
      })
      .finally(() => this.#open.delete(io))
  }

  async start(): Promise<void> {
    this.#stopping = false
    await this.#init.register(this.handle)
  }

  /**
   * Stopped after the engine, which gives its peers' copies up (each submitter gets that as the
   * copy's result and runs the task elsewhere): results on their way out are let go, then every
   * stream still open is dropped.
   */
  async stop(): Promise<void> {
    this.#stopping = true
    const grace = AbortSignal.timeout(this.#init.options.cancelGraceMs)
    const left = new Promise<void>((r) => grace.addEventListener('abort', () => r(), { once: true }))
    await Promise.race([Promise.allSettled([...this.#closing]), left])
    for (const io of this.#open) io.abort(new Error('the executor is stopping'))
  }

  async #serve(io: Channel, sender: string): Promise<void> {
    const { options, engine } = this.#init
    const frames = io.frames()
    const timeout = setTimeout(() => io.abort(new Error('no offer')), options.answerTimeoutMs)
    const first = await frames.next().finally(() => clearTimeout(timeout))
    if (first.done) return
    const admitted = await this.#admit(io, first.value, sender)
    if (admitted === null) return
    const { offer, quote } = admitted
    let taskId: string
    try {
      const origin = { peerId: offer.origin, taskId: offer.taskId, attempt: offer.attempt }
      taskId = engine.adopt(offer.spec, origin).id
    } catch (err) {
      if (!(err instanceof AdoptionRefusedError)) throw err
      return this.#decline(io, offer, err.reason, err.message, err.retryAfterMs)
    }
    this.#attached.get(taskId)?.abort(new Error('another stream took over this task'))
    this.#attached.set(taskId, io)
    let report = { stop: noop, finished: false }
    try {
      await io.send({
        type: 'accept',
        taskId: offer.taskId,
        attempt: offer.attempt,
        executorTaskId: taskId,
        quote,
      })
      report = this.#report(io, offer, taskId, quote)
      for await (const f of frames) {
        if (!f.ok || f.frame.type !== 'cancel') break
        await engine.cancel(taskId).catch(noop)
      }
    } finally {
      report.stop()
      // The submitter left before the result: it reruns the task elsewhere, so this copy stops.
      if (this.#attached.get(taskId) === io) {
        this.#attached.delete(taskId)
        if (!report.finished && !this.#stopping) await engine.cancel(taskId).catch(noop)
      }
    }
  }

  /** Checks the first frame; answers a decline and returns null when the offer is not taken. */
  async #admit(
    io: Channel,
    first: ReadFrame<SubmitterFrame>,
    sender: string,
  ): Promise<{ offer: TaskOfferBody; quote: PriceQuote | undefined } | null> {
    const { options, selfId, nonces, unableToRun } = this.#init
    if (!first.ok || first.frame.type !== 'offer') {
      const raw = first.ok ? undefined : first.error
      await this.#decline(io, null, 'malformed', raw ?? 'the first frame must be an offer', null)
      return null
    }
    const now = Date.now()
    const check = await checkOffer((first.raw as { offer: unknown }).offer, {
      self: selfId,
      sender,
      now,
      maxSkewMs: options.maxClockSkewMs,
    })
    if (!check.ok) {
      this.#init.log.warn({ peer: sender, reason: check.reason, why: check.message }, 'task offer refused')
      await this.#decline(io, null, check.reason, check.message, null)
      return null
    }
    const offer = check.offer
    if (!nonces.claim(offer.origin, offer.nonce, offer.expiresAt, now)) {
      this.#init.log.warn({ peer: sender, taskId: offer.taskId }, 'replayed task offer refused')
      await this.#decline(io, offer, 'replayed', 'this offer was received before', null)
      return null
    }
    if (this.#stopping) {
      await this.#decline(io, offer, 'stopping', 'this node is stopping', null)
      return null
    }
    const unable = unableToRun(offer.spec)
    if (unable !== null) {
      await this.#decline(io, offer, 'no-model', unable, null)
      return null
    }
    const priced = await this.#init.settlement?.quote(offer)
    if (priced && !priced.ok) {
      this.#init.log.warn({ peer: sender, why: priced.message }, 'task offer declined for credit')
      await this.#decline(io, offer, 'credit', priced.message, null)
      return null
    }
    return { offer, quote: priced?.quote }
  }

  async #decline(
    io: Channel,
    offer: TaskOfferBody | null,
    reason: DeclineReason,
    message: string,
    retryAfterMs: number | null,
  ): Promise<void> {
    const ids = offer ? { taskId: offer.taskId, attempt: offer.attempt } : { taskId: 'unknown', attempt: 1 }
    await io.send({ type: 'decline', ...ids, reason, message, retryAfterMs }).catch(noop)
    await io.close(AbortSignal.timeout(this.#init.options.answerTimeoutMs))
  }

  /**
   * Stores the claim for a finished copy before its result leaves (a crash in between loses
   * neither), once per copy: a submitter that takes the copy up again is not billed again.
   */
  #bill(
    offer: TaskOfferBody,
    quote: PriceQuote | undefined,
    taskId: string,
    t: TaskRecord,
    tokensSent: number,
  ): Promise<void> {
    const { settlement } = this.#init
    if (settlement === undefined || quote === undefined) return Promise.resolve()
    let billed = this.#billed.get(taskId)
    if (billed === undefined) {
      const usage = {
        tokens: usedTokens(offer.spec, tokensSent, t.result),
        cpuMs: Math.round(t.result?.durations.sandboxMs ?? 0),
      }
      billed = settlement
        .executed(offer, quote, usage)
        .catch((err: Error) => this.#init.log.error({ err, taskId }, 'could not bill the task'))
      this.#billed.set(taskId, billed)
      if (this.#billed.size > BILLED_KEPT) this.#billed.delete(this.#billed.keys().next().value!)
    }
    return billed
  }

  /** Streams heartbeats and progress of the copy to the submitter, then its result. */
  #report(
    io: Channel,
    offer: TaskOfferBody,
    taskId: string,
    quote: PriceQuote | undefined,
  ): { stop: () => void; finished: boolean } {
    const { engine } = this.#init
    const state = { finished: false, stop: noop }
    // Tokens as the submitter sees them: the non-empty token frames sent on this stream.
    let tokensSent = 0
    const send = (f: ExecutorFrame) => void io.send(f).catch(noop)
    const finish = () => {
      if (state.finished) return
      state.finished = true
      state.stop()
      const t = engine.get(taskId)
      if (!FINAL_STATUSES.includes(t.status)) return
      const status = t.status as 'succeeded' | 'failed' | 'cancelled'
      const result = async () => {
        send({
          type: 'result',
          taskId: offer.taskId,
          attempt: offer.attempt,
          status,
          result: t.result,
          error: t.error,
        })
        await io.close(AbortSignal.timeout(this.#init.options.answerTimeoutMs)).catch(noop)
      }
      // From here until the stream closes the copy's result is on its way: a stop waits for it.
      const leaving = this.#bill(offer, quote, taskId, t, tokensSent).then(result)
      this.#closing.add(leaving)
      void leaving.finally(() => this.#closing.delete(leaving))
    }
    let running = false
    let last = 0
    const forward = (ev: TaskEvent) => {
      if (ev.seq <= last || state.finished) return
      last = ev.seq
      if (ev.type === 'done') return finish()
      if (ev.type === 'started') {
        running = true
        send({ type: 'heartbeat', state: 'running' })
      }
      const wire = toWire(ev)
      if (wire !== null) send({ type: 'event', event: wire })
      if (wire?.type === 'token' && wire.text !== '') tokensSent++
    }
    // Subscribe before reading the history, holding live events back, so none falls in between:
    // the copy may have started (and even finished) while the offer was being accepted.
    let held: TaskEvent[] | null = []
    const unsubscribe = engine.events.subscribe(taskId, (ev) => (held ? held.push(ev) : forward(ev)))
    const beat = setInterval(
      () => send({ type: 'heartbeat', state: running ? 'running' : 'queued' }),
      offer.heartbeatMs,
    )
    state.stop = () => {
      unsubscribe()
      clearInterval(beat)
    }
    for (const ev of engine.events.replay(taskId)) forward(ev)
    const pending = held
    held = null
    for (const ev of pending) forward(ev)
    // A retried offer for a copy that already finished gets its result at once.
    if (FINAL_STATUSES.includes(engine.get(taskId).status)) finish()
    return state
  }
}

/** A task event of the copy, as the submitter gets it; null for those it makes itself. */
function toWire(ev: TaskEvent): TaskWireEvent | null {
  switch (ev.type) {
    case 'token': {
      const d = ev.data as Extract<TaskWireEvent, { type: 'token' }>
      return { type: 'token', text: d.text, phase: d.phase, attempt: d.attempt }
    }
    case 'attempt': {
      const { n, response, code, tokens, modelMs } = ev.data as Extract<
        TaskWireEvent,
        { type: 'attempt' }
      >['attempt']
      return { type: 'attempt', attempt: { n, response, code, tokens, modelMs } }
    }
    case 'test-result': {
      const {
        run: _run,
        attempt,
        ...report
      } = ev.data as { run: number; attempt: number | null } & TestReport
      return { type: 'test-result', attempt, report }
    }
    default:
      return null
  }
}
