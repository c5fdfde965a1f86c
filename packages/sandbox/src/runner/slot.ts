import { Worker } from 'node:worker_threads'
import { SandboxStartError, SandboxStoppedError } from '../errors.ts'
import type { SandboxLanguage, SandboxLogger, SandboxReport } from '../types.ts'
import {
  CONTROL_SLOTS,
  type RunMessage,
  requestStop,
  Slot,
  StopReason,
  type StopReasonCode,
  type WorkerInit,
  type WorkerMessage,
} from './protocol.ts'
import { buildReport, type RunEnd } from './report.ts'

const WORKER_FILES: Record<SandboxLanguage, URL> = {
  python: new URL('./python-worker.ts', import.meta.url),
  javascript: new URL('./js-worker.ts', import.meta.url),
}
const LOG_CHUNK_CHARS = 2000
/**
 * Pyodide's wasm frames run on the thread's native stack, while Python's stack check
 * watches the wasm stack: with Node's default 4 MiB a deep C recursion (a recursive
 * __repr__, freeing a list nested 100 000 deep) overflows the native stack first and kills
 * the interpreter. With 128 MiB Python's own check acts first. The memory is only
 * reserved; a page is committed when a recursion reaches it.
 */
const STACK_MB: Record<SandboxLanguage, number> = { python: 128, javascript: 4 }

/** What a slot needs from its pool. */
export interface SlotSettings {
  memoryLimitBytes: number
  outputCapBytes: number
  graceMs: number
  maxRunsPerWorker: number
  workerHeapMb: number
  logger?: SandboxLogger
  /** Called when the slot can take a run: after it started and after each run. */
  onIdle: () => void
  /** Called when a replacement worker failed to start. */
  onStartFailure: (error: Error) => void
}

/** A run handed to a slot. */
export interface SlotJob {
  code: string
  tests: string
  deadlineMs: number
  signal?: AbortSignal
}

interface ActiveRun {
  id: number
  deadlineMs: number
  startedAt: number
  resolve: (report: SandboxReport) => void
  reject: (error: Error) => void
  cleanup: () => void
  graceTimer?: NodeJS.Timeout
}

/**
 * One warm worker thread for one language. It runs one request at a time, stops a run
 * at its deadline (interrupt first, terminate after a grace period) and replaces its
 * worker whenever the old one was terminated, died or may have been damaged.
 */
export class WorkerSlot {
  readonly language: SandboxLanguage
  readonly #settings: SlotSettings
  readonly #control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4))
  readonly #output: SharedArrayBuffer
  #worker: Worker | undefined
  #state: 'starting' | 'idle' | 'busy' | 'stopped' = 'starting'
  #active: ActiveRun | undefined
  #runs = 0
  #nextId = 1
  #failures = 0
  #outOfMemory = false
  #lastError: Error | undefined

  constructor(language: SandboxLanguage, settings: SlotSettings) {
    this.language = language
    this.#settings = settings
    this.#output = new SharedArrayBuffer(settings.outputCapBytes)
  }

  get idle(): boolean {
    return this.#state === 'idle'
  }

  get busy(): boolean {
    return this.#state === 'busy'
  }

  /** Starts the worker; resolves once its interpreter is loaded. */
  start(): Promise<void> {
    this.#state = 'starting'
    const init: WorkerInit = {
      language: this.language,
      memoryLimitBytes: this.#settings.memoryLimitBytes,
      control: this.#control.buffer as SharedArrayBuffer,
      output: this.#output,
    }
    const worker = new Worker(WORKER_FILES[this.language], {
      workerData: init,
      env: {},
      argv: [],
      stdout: true,
      stderr: true,
      resourceLimits: {
        maxOldGenerationSizeMb: this.#settings.workerHeapMb,
        maxYoungGenerationSizeMb: 32,
        stackSizeMb: STACK_MB[this.language],
      },
    })
    this.#worker = worker
    this.#outOfMemory = false
    this.#lastError = undefined
    for (const stream of [worker.stdout, worker.stderr]) {
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => {
        this.#settings.logger?.debug(
          { language: this.language, text: chunk.slice(0, LOG_CHUNK_CHARS) },
          'sandbox worker wrote',
        )
      })
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') {
        if (this.#state === 'stopped') return
        this.#failures = 0
        this.#state = 'idle'
        worker.unref()
        resolve()
        this.#settings.onIdle()
      } else if (message.type === 'fatal') {
        reject(new SandboxStartError(`${this.language} sandbox failed to start: ${message.message}`))
        void worker.terminate()
      } else if (message.type === 'result' && this.#active?.id === message.id) {
        this.#finish({ result: message.result })
      }
    })
    worker.on('error', (error: Error & { code?: string }) => {
      this.#lastError = error
      if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') this.#outOfMemory = true
    })
    worker.on('exit', (code) => {
      if (this.#worker !== worker) return
      this.#worker = undefined
      const why = this.#lastError?.message ?? `exit code ${code}`
      reject(new SandboxStartError(`${this.language} sandbox worker exited while starting: ${why}`))
      if (this.#active) {
        this.#finish({ outOfMemory: this.#outOfMemory, crash: `the sandbox worker died: ${why}` }, true)
      } else if (this.#state === 'idle') {
        this.#replace() // died between runs; a worker that dies while starting is retried by its starter
      }
    })
    return promise
  }

  /** Runs one job; the slot must be idle. */
  execute(job: SlotJob): Promise<SandboxReport> {
    const worker = this.#worker
    if (this.#state !== 'idle' || !worker) throw new Error('sandbox slot is not idle')
    this.#state = 'busy'
    worker.ref()
    for (const slot of [Slot.interrupt, Slot.reason, Slot.outputLength, Slot.truncated]) {
      Atomics.store(this.#control, slot, 0)
    }
    const { promise, resolve, reject } = Promise.withResolvers<SandboxReport>()
    const id = this.#nextId++
    const timer = setTimeout(() => this.#interrupt(StopReason.timeout), job.deadlineMs)
    const onAbort = (): void => this.#interrupt(StopReason.cancelled)
    job.signal?.addEventListener('abort', onAbort, { once: true })
    const cleanup = (): void => {
      clearTimeout(timer)
      job.signal?.removeEventListener('abort', onAbort)
    }
    this.#active = { id, deadlineMs: job.deadlineMs, startedAt: performance.now(), resolve, reject, cleanup }
    const message: RunMessage = {
      type: 'run',
      id,
      code: job.code,
      tests: job.tests,
      deadlineMs: job.deadlineMs,
    }
    worker.postMessage(message)
    if (job.signal?.aborted) onAbort()
    return promise
  }

  /** Terminates the worker; a run in progress is rejected. */
  async stop(): Promise<void> {
    this.#state = 'stopped'
    const active = this.#active
    if (active) {
      this.#active = undefined
      active.cleanup()
      clearTimeout(active.graceTimer)
      active.reject(new SandboxStoppedError())
    }
    const worker = this.#worker
    this.#worker = undefined
    await worker?.terminate()
  }

  /** Asks the guest to stop, and terminates the worker if it has not within the grace period. */
  #interrupt(reason: StopReasonCode): void {
    const active = this.#active
    if (!active || active.graceTimer) return
    requestStop(this.#control, reason)
    active.graceTimer = setTimeout(() => {
      if (this.#active !== active) return
      this.#settings.logger?.warn(
        { language: this.language },
        'sandbox run ignored its interrupt; terminating the worker',
      )
      this.#finish({}, true)
    }, this.#settings.graceMs)
  }

  #finish(end: Pick<RunEnd, 'result' | 'outOfMemory' | 'crash'>, workerLost = false): void {
    const active = this.#active
    if (!active) return
    this.#active = undefined
    active.cleanup()
    clearTimeout(active.graceTimer)
    this.#runs++
    const report = buildReport({
      ...end,
      language: this.language,
      control: this.#control,
      output: this.#output,
      deadlineMs: active.deadlineMs,
      durationMs: performance.now() - active.startedAt,
    })
    const worn = this.#runs >= this.#settings.maxRunsPerWorker
    // Wasm memory never shrinks: after a run that filled it, a fresh worker gives it back.
    if (workerLost || end.result?.recycle || worn || report.outcome === 'memory') {
      this.#replace()
    } else {
      this.#state = 'idle'
      this.#worker?.unref()
    }
    active.resolve(report)
    if (this.#state === 'idle') this.#settings.onIdle()
  }

  /** Throws the current worker away and starts a fresh one, retrying with a backoff. */
  #replace(): void {
    if (this.#state === 'stopped') return
    this.#state = 'starting'
    this.#runs = 0
    const old = this.#worker
    this.#worker = undefined
    void (async () => {
      await old?.terminate()
      while (this.#state === 'starting') {
        try {
          await this.start()
          return
        } catch (error) {
          this.#failures++
          this.#settings.logger?.error(
            { err: error, language: this.language },
            'sandbox worker failed to start',
          )
          this.#settings.onStartFailure(error as Error)
          await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** this.#failures)).unref())
        }
      }
    })()
  }
}
