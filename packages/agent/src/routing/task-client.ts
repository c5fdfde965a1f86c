import {
  ExecutorFrame,
  type SubmitterFrame,
  TASK_PROTOCOL,
  type TaskError,
  type TaskResult,
  type TaskSpec,
  type TaskWireEvent,
} from '@edgecoder/protocol'
import type { Connection, Libp2p, PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { openStream } from '../mesh/index.ts'
import { ExecutorLostError, ExecutorStalledError, OfferDeclinedError, TaskProtocolError } from './errors.ts'
import { FrameChannel } from './frames.ts'
import { newNonce, signOffer } from './offers.ts'
import { type RoutingOptions, stallAfterMs } from './options.ts'
import type { SettlementPort } from './settlement-port.ts'
import { usedTokens } from './usage.ts'

/** One attempt of a task offered to one peer. */
export interface OfferRequest {
  peerId: string
  /** The peer's advertised addresses, dialed when no connection to it is open. */
  addrs: string[]
  taskId: string
  attempt: number
  spec: TaskSpec
  signal: AbortSignal
  /** The executor took the task: the id of its copy, and the relay in between, if any. */
  onAccept?: (accepted: { executorTaskId: string; via: string | null }) => void
  onEvent?: (event: TaskWireEvent) => void
  /**
   * Asking again for a copy the executor took before the stream was lost: its events up to
   * `skipEvents` were passed on already (the executor replays them in the same order), and the
   * work has been waited for since `since` (a `performance.now()`), not since this offer.
   */
  reattach?: { skipEvents: number; since: number }
  /** How long dialing and the answer to the offer may take; `answerTimeoutMs` when not given. */
  answerWithinMs?: number
}

/** The executor's verdict on an attempt. */
export interface OfferResult {
  status: 'succeeded' | 'failed' | 'cancelled'
  result: TaskResult | null
  error: TaskError | null
  executorTaskId: string
  via: string | null
}

export interface TaskClientInit {
  options: RoutingOptions
  host: () => Libp2p | undefined
  key: PrivateKey
  selfId: string
  /** Checks executors' quotes and records what was received, for the settlement that follows. */
  settlement?: SettlementPort
}

type Channel = FrameChannel<ExecutorFrame, SubmitterFrame>

/**
 * The submitter's side of the task protocol: opens a stream to the executor (through a relay if
 * that is the only way), sends the signed offer and follows the answer. Silence longer than a few
 * heartbeats is a stall; a stream that ends before the result is a loss. Aborting the signal sends
 * `cancel` and waits a moment for the executor to confirm.
 */
export class TaskClient {
  readonly #init: TaskClientInit

  constructor(init: TaskClientInit) {
    this.#init = init
  }

  /**
   * @throws OfferDeclinedError, ExecutorLostError, ExecutorStalledError, TaskProtocolError; the
   * signal's reason once it aborts
   */
  async run(req: OfferRequest): Promise<OfferResult> {
    const { options, key, selfId } = this.#init
    const answerMs = req.answerWithinMs ?? options.answerTimeoutMs
    const stream = await this.#dial(req, answerMs)
    if (req.signal.aborted) {
      stream.abort(req.signal.reason as Error)
      throw req.signal.reason
    }
    const io: Channel = new FrameChannel(stream, ExecutorFrame)
    const now = Date.now()
    const body = {
      v: 1 as const,
      taskId: req.taskId,
      attempt: req.attempt,
      origin: selfId,
      executor: req.peerId,
      spec: req.spec,
      heartbeatMs: options.heartbeatMs,
      nonce: newNonce(),
      issuedAt: now,
      expiresAt: now + options.offerTtlMs,
    }
    let failure: Error | null = null
    let accepted: string | null = null
    // The executor can't start before the offer leaves: sandbox time is bounded from here.
    let offeredAt = 0
    let tokensSeen = 0
    let eventsSeen = 0
    const via = relayOf(this.#init.host()?.getConnections(peerIdFromString(req.peerId)) ?? [])
    const work = { executor: req.peerId, taskId: req.taskId, attempt: req.attempt, kind: req.spec.kind, via }
    const fail = (err: Error) => {
      failure ??= err
      io.abort(err)
    }
    let watchdog: NodeJS.Timeout | undefined
    const arm = () => {
      clearTimeout(watchdog)
      const ms = accepted === null ? Math.max(answerMs, stallAfterMs(options)) : stallAfterMs(options)
      watchdog = setTimeout(() => {
        const who = short(req.peerId)
        fail(
          accepted === null
            ? new ExecutorLostError(`${who} did not answer the offer within ${ms} ms`)
            : new ExecutorStalledError(`${who} sent nothing for ${ms} ms`),
        )
      }, ms)
    }
    let grace: NodeJS.Timeout | undefined
    const onAbort = () => {
      const reason = String((req.signal.reason as Error)?.message ?? 'cancelled')
      io.send({ type: 'cancel', reason }).catch(() => io.abort(req.signal.reason as Error))
      grace = setTimeout(() => io.abort(req.signal.reason as Error), options.cancelGraceMs)
    }
    req.signal.addEventListener('abort', onAbort, { once: true })
    try {
      arm()
      const offer = await signOffer(body, key)
      offeredAt = req.reattach?.since ?? performance.now()
      await io.send({ type: 'offer', offer })
      for await (const f of io.frames()) {
        arm()
        if (!f.ok) throw new TaskProtocolError(`${short(req.peerId)} sent a bad frame: ${f.error}`)
        const frame = f.frame
        if (frame.type === 'heartbeat') continue
        if (frame.type === 'decline')
          throw new OfferDeclinedError(frame.reason, frame.message, frame.retryAfterMs)
        if (frame.type !== 'event' && (frame.taskId !== req.taskId || frame.attempt !== req.attempt))
          throw new TaskProtocolError(`${short(req.peerId)} answered for another task or attempt`)
        if (frame.type === 'accept') {
          const refused = frame.quote && this.#init.settlement?.quoted(work, frame.quote)
          if (refused) throw new OfferDeclinedError('credit', refused)
          accepted = frame.executorTaskId
          arm()
          req.onAccept?.({ executorTaskId: accepted, via })
        } else if (accepted === null) {
          throw new TaskProtocolError(`${short(req.peerId)} reported on a task it never accepted`)
        } else if (frame.type === 'event') {
          if (frame.event.type === 'token' && frame.event.text !== '') tokensSeen++
          if (++eventsSeen > (req.reattach?.skipEvents ?? 0)) req.onEvent?.(frame.event)
        } else {
          const tokens = usedTokens(req.spec, tokensSeen, frame.result)
          this.#init.settlement?.observed(work, tokens, Math.ceil(performance.now() - offeredAt))
          await io.close(AbortSignal.timeout(options.answerTimeoutMs))
          req.signal.throwIfAborted()
          return {
            status: frame.status,
            result: frame.result,
            error: frame.error,
            executorTaskId: accepted,
            via,
          }
        }
      }
      throw new ExecutorLostError(`${short(req.peerId)} closed the stream without a result`)
    } catch (err) {
      if (req.signal.aborted) throw req.signal.reason
      if (failure !== null) throw failure
      if (err instanceof OfferDeclinedError || err instanceof TaskProtocolError) {
        io.abort(err)
        throw err
      }
      if (err instanceof ExecutorLostError) throw err
      throw new ExecutorLostError(`the stream to ${short(req.peerId)} broke: ${(err as Error).message}`)
    } finally {
      clearTimeout(watchdog)
      clearTimeout(grace)
      req.signal.removeEventListener('abort', onAbort)
      if (stream.status === 'open') io.abort(new Error('done'))
    }
  }

  /** A stream to the peer: over an open connection if there is one (relayed too), else to its addresses. */
  async #dial(req: OfferRequest, withinMs: number): Promise<Stream> {
    const host = this.#init.host()
    if (host === undefined) throw new ExecutorLostError('the mesh is not running')
    req.signal.throwIfAborted()
    const signal = AbortSignal.any([req.signal, AbortSignal.timeout(withinMs)])
    try {
      // libp2p orders the addresses (mesh/dial-order.ts): unreachable private ones after relays.
      return await openStream(host, peerIdFromString(req.peerId), TASK_PROTOCOL, { signal, addrs: req.addrs })
    } catch (err) {
      if (req.signal.aborted) throw req.signal.reason
      throw new ExecutorLostError(`could not reach ${short(req.peerId)}: ${(err as Error).message}`)
    }
  }
}

function isRelayed(addr: string): boolean {
  return addr.includes('/p2p-circuit')
}

/** The relay a peer is reached through, when no direct connection to it is open. */
export function relayOf(conns: Connection[]): string | null {
  const open = conns.filter((c) => c.status === 'open')
  if (open.length === 0 || open.some((c) => c.limits === undefined && !isRelayed(c.remoteAddr.toString())))
    return null
  return /\/p2p\/([^/]+)\/p2p-circuit/.exec(open[0]!.remoteAddr.toString())?.[1] ?? null
}

/** The tail of a peer id, enough to tell peers apart in messages. */
export function short(peerId: string): string {
  return `…${peerId.slice(-8)}`
}
