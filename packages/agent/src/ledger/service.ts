import {
  LEDGER_PROTOCOL,
  LedgerRequest,
  LedgerResponse,
  type LedgerRequest as Request,
  type LedgerResponse as Response,
} from '@edgecoder/protocol'
import type { Connection, Libp2p, Stream, StreamHandler } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.ts'
import { FrameChannel } from '../routing/index.ts'
import { LedgerRefusedError } from './errors.ts'

/** Answers one request of a peer; a refusal is thrown as LedgerRefusedError. */
export type LedgerHandler = (req: Request, sender: string) => Promise<Response>

export interface LedgerServiceInit {
  host: () => Libp2p | undefined
  /** A peer's advertised addresses, dialed when no connection to it is open. */
  addrsOf: (peerId: string) => string[]
  register: (handler: StreamHandler) => Promise<void>
  handler: LedgerHandler
  /** How long a request may take, dial included. */
  timeoutMs: number
  log: Logger
}

/** The largest ledger exchange: a page of blocks. */
const MAX_STREAMS = 32

/**
 * `LEDGER_PROTOCOL`: one request and one response per stream. Peers fetch blocks of chains,
 * executors ask submitters to agree to their claims, and equivocation proofs travel here.
 */
export class LedgerService {
  readonly name = 'ledger-service'
  readonly #init: LedgerServiceInit

  constructor(init: LedgerServiceInit) {
    this.#init = init
  }

  static readonly streamOptions = {
    maxInboundStreams: MAX_STREAMS,
    maxOutboundStreams: MAX_STREAMS,
    runOnLimitedConnection: true,
  }

  async start(): Promise<void> {
    await this.#init.register(this.#handle)
  }

  async stop(): Promise<void> {}

  readonly #handle = (stream: Stream, connection: Connection): void => {
    const io = new FrameChannel<Request, Response>(stream, LedgerRequest)
    const sender = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(this.#init.timeoutMs)
    const timer = setTimeout(() => io.abort(new Error('no request in time')), this.#init.timeoutMs)
    void (async () => {
      const first = await io.frames().next()
      clearTimeout(timer)
      if (first.done) return
      let answer: Response
      if (!first.value.ok) answer = { type: 'refused', reason: 'malformed', message: first.value.error }
      else {
        try {
          answer = await this.#init.handler(first.value.frame, sender)
        } catch (err) {
          if (!(err instanceof LedgerRefusedError)) throw err
          answer = { type: 'refused', reason: err.reason, message: err.message }
        }
      }
      await io.send(answer)
      await io.close(signal)
    })().catch((err: Error) => {
      this.#init.log.debug({ err: err.message, peer: sender }, 'ledger stream ended badly')
      io.abort(err)
    })
  }

  /** Sends one request to a peer (over an open connection or its known addresses) and reads the answer. */
  async request(peerId: string, req: Request): Promise<Response> {
    const host = this.#init.host()
    if (host === undefined) throw new Error('the mesh is not running')
    const signal = AbortSignal.timeout(this.#init.timeoutMs)
    const peer = peerIdFromString(peerId)
    const connected = host.getConnections(peer).some((c) => c.status === 'open')
    const addrs = this.#init.addrsOf(peerId)
    const target = connected || addrs.length === 0 ? peer : addrs.map((a) => multiaddr(a))
    const stream = await host.dialProtocol(target, LEDGER_PROTOCOL, {
      signal,
      runOnLimitedConnection: true,
    })
    const io = new FrameChannel<Response, Request>(stream, LedgerResponse)
    try {
      await io.send(req)
      const answer = await io.frames().next()
      if (answer.done) throw new Error('the peer closed the stream without an answer')
      if (!answer.value.ok) throw new Error(`the peer sent a bad answer: ${answer.value.error}`)
      return answer.value.frame
    } finally {
      io.abort(new Error('done'))
    }
  }
}
