// What the pool and its worker threads share: the messages they post and the layout of
// the shared memory through which the pool stops a run that does not yield its thread.

import type { SandboxLanguage } from '../types.ts'

/** Int32 slots of the control buffer. */
export const Slot = {
  /** Pyodide's interrupt buffer: 2 (SIGINT) asks Python to raise KeyboardInterrupt. */
  interrupt: 0,
  /** Why the run is being stopped, a {@link StopReason} code; 0 while it is not. */
  reason: 1,
  /** Bytes of output written to the output buffer. */
  outputLength: 2,
  /** 1 when output was dropped because the buffer was full. */
  truncated: 3,
} as const
export const CONTROL_SLOTS = 4
export const SIGINT = 2

/** Why a run was stopped before it finished. */
export const StopReason = { timeout: 1, cancelled: 2, outputLimit: 3 } as const
export type StopReasonCode = (typeof StopReason)[keyof typeof StopReason]

/** What a worker is given when it starts. */
export interface WorkerInit {
  language: SandboxLanguage
  memoryLimitBytes: number
  control: SharedArrayBuffer
  output: SharedArrayBuffer
}

export interface RunMessage {
  type: 'run'
  id: number
  code: string
  tests: string
  deadlineMs: number
}

/** How the guest ended, before the pool maps it onto an outcome. */
export type WorkerStatus = 'completed' | 'exception' | 'memory' | 'interrupted'

export interface WorkerResult {
  status: WorkerStatus
  passed: number
  failed: number
  total: number
  error?: string
  /** The interpreter may be damaged: the pool replaces the worker after this run. */
  recycle?: boolean
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: WorkerResult }
  | { type: 'fatal'; message: string }

/**
 * Writes output into the shared buffer, where the pool can read it even if it has to
 * terminate the worker. When the buffer is full it stops the run instead of growing.
 */
export class OutputSink {
  readonly #control: Int32Array
  readonly #bytes: Uint8Array
  readonly #encoder = new TextEncoder()
  readonly #onFull: () => void

  constructor(control: SharedArrayBuffer, output: SharedArrayBuffer, onFull: () => void) {
    this.#control = new Int32Array(control)
    this.#bytes = new Uint8Array(output)
    this.#onFull = onFull
  }

  /** Room left, in bytes; 0 once the cap was hit. */
  get room(): number {
    return this.#bytes.length - Atomics.load(this.#control, Slot.outputLength)
  }

  writeText(text: string): void {
    if (text.length === 0) return
    // Never encode more than could fit: a guest may hand over a very long string.
    this.writeBytes(this.#encoder.encode(text.length > this.room + 1 ? text.slice(0, this.room + 1) : text))
  }

  writeBytes(chunk: Uint8Array): void {
    const at = Atomics.load(this.#control, Slot.outputLength)
    const n = Math.min(chunk.length, this.#bytes.length - at)
    this.#bytes.set(n === chunk.length ? chunk : chunk.subarray(0, n), at)
    Atomics.store(this.#control, Slot.outputLength, at + n)
    if (n < chunk.length) {
      Atomics.store(this.#control, Slot.truncated, 1)
      requestStop(this.#control, StopReason.outputLimit)
      this.#onFull()
    }
  }
}

/** Records the first reason a run is stopped and raises the interrupt. */
export function requestStop(control: Int32Array, reason: StopReasonCode): void {
  Atomics.compareExchange(control, Slot.reason, 0, reason)
  Atomics.store(control, Slot.interrupt, SIGINT)
  Atomics.notify(control, Slot.interrupt)
}
