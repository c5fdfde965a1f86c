import { TASK_FRAME_MAX_BYTES } from '@edgecoder/protocol'
import type { Stream } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import type { z } from 'zod'

/** A frame as read: the validated value and the JSON it came from, or why it was refused. */
export type ReadFrame<T> = { ok: true; frame: T; raw: unknown } | { ok: false; error: string }

const decoder = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()
const noop = () => {}

/**
 * Length-prefixed JSON frames over one libp2p stream: what is read is checked against `schema`
 * (a frame above `TASK_FRAME_MAX_BYTES` ends the stream), what is written goes out in order,
 * waiting for the stream to drain when the peer reads slowly.
 */
export class FrameChannel<In, Out> {
  readonly stream: Stream
  readonly #schema: z.ZodType<In>
  #sending: Promise<void> = Promise.resolve()

  constructor(stream: Stream, schema: z.ZodType<In>) {
    this.stream = stream
    this.#schema = schema
  }

  /** Queues a frame; the promise settles once it is handed to the stream (it rejects if the stream broke). */
  send(frame: Out): Promise<void> {
    const bytes = lp.encode.single(encoder.encode(JSON.stringify(frame)))
    const next = this.#sending.catch(noop).then(async () => {
      if (!this.stream.send(bytes)) await this.stream.onDrain()
    })
    this.#sending = next
    return next
  }

  /** Frames as they arrive, until the peer closes its end; an unreadable frame is yielded as an error. */
  async *frames(): AsyncGenerator<ReadFrame<In>> {
    for await (const chunk of lp.decode(this.stream, { maxDataLength: TASK_FRAME_MAX_BYTES })) {
      let raw: unknown
      try {
        raw = JSON.parse(decoder.decode(chunk.subarray()))
      } catch {
        yield { ok: false, error: 'a frame is not UTF-8 JSON' }
        continue
      }
      const parsed = this.#schema.safeParse(raw)
      if (parsed.success) yield { ok: true, frame: parsed.data, raw }
      else {
        const issue = parsed.error.issues[0]
        yield { ok: false, error: `${issue?.path.join('.') || 'frame'}: ${issue?.message}` }
      }
    }
  }

  /** Closes this end once what was queued is sent; a stream that won't close is reset. */
  async close(signal?: AbortSignal): Promise<void> {
    await this.#sending.catch(noop)
    if (this.stream.status !== 'open') return
    await this.stream.close({ signal }).catch((err: Error) => this.stream.abort(err))
  }

  abort(err: Error): void {
    if (this.stream.status === 'open' || this.stream.status === 'closing') this.stream.abort(err)
  }
}
