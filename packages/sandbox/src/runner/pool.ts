import { SandboxNotStartedError, SandboxRequestError, SandboxStoppedError } from '../errors.ts'
import { enqueueRun, type QueuedRun } from '../run-queue.ts'
import type { SandboxLanguage, SandboxOptions, SandboxReport, SandboxRequest } from '../types.ts'
import { type SlotSettings, WorkerSlot } from './slot.ts'

const LANGUAGES: readonly SandboxLanguage[] = ['python', 'javascript']
const MAX_SOURCE_CHARS = 1_000_000
const MAX_DEADLINE_MS = 10 * 60_000

/** Queue depth and worker use of one language. */
export interface SandboxLanguageStatus {
  workers: number
  busy: number
  queued: number
}

export function validate(request: SandboxRequest, languages: readonly SandboxLanguage[]): void {
  if (!LANGUAGES.includes(request.language)) {
    throw new SandboxRequestError(`unknown sandbox language: ${String(request.language)}`)
  }
  if (!languages.includes(request.language)) {
    throw new SandboxRequestError(`this sandbox pool does not run ${request.language}`)
  }
  if (typeof request.code !== 'string') throw new SandboxRequestError('code must be a string')
  if (request.tests !== undefined && typeof request.tests !== 'string') {
    throw new SandboxRequestError('tests must be a string')
  }
  if (request.code.length + (request.tests?.length ?? 0) > MAX_SOURCE_CHARS) {
    throw new SandboxRequestError(`code and tests together exceed ${MAX_SOURCE_CHARS} characters`)
  }
  const { deadlineMs } = request
  if (
    deadlineMs !== undefined &&
    !(Number.isFinite(deadlineMs) && deadlineMs > 0 && deadlineMs <= MAX_DEADLINE_MS)
  ) {
    throw new SandboxRequestError(`deadlineMs must be between 1 and ${MAX_DEADLINE_MS}`)
  }
}

/**
 * Runs untrusted Python (Pyodide) and JavaScript (QuickJS) against tests, in warm worker
 * threads with a deadline, memory limits and an output cap. Runs of one language queue
 * for that language's workers; the code never runs on the host itself.
 */
export class SandboxPool {
  readonly #options: Required<Omit<SandboxOptions, 'logger'>> & Pick<SandboxOptions, 'logger'>
  readonly #slots = new Map<SandboxLanguage, WorkerSlot[]>()
  readonly #queues = new Map<SandboxLanguage, QueuedRun[]>()
  #state: 'new' | 'starting' | 'running' | 'stopped' = 'new'
  #starting: Promise<void> | undefined

  constructor(options: SandboxOptions = {}) {
    this.#options = {
      deadlineMs: options.deadlineMs ?? 10_000,
      memoryLimitBytes: options.memoryLimitBytes ?? 256 * 1024 * 1024,
      outputCapBytes: options.outputCapBytes ?? 64 * 1024,
      graceMs: options.graceMs ?? 750,
      workersPerLanguage: Math.max(1, Math.floor(options.workersPerLanguage ?? 1)),
      languages: [...new Set(options.languages ?? LANGUAGES)],
      maxRunsPerWorker: options.maxRunsPerWorker ?? 200,
      workerHeapMb: options.workerHeapMb ?? 256,
      logger: options.logger,
    }
  }

  /** Loads every worker's interpreter (Pyodide takes seconds); resolves when all are warm. */
  start(): Promise<void> {
    if (this.#state === 'stopped') return Promise.reject(new SandboxStoppedError())
    this.#starting ??= this.#startWorkers()
    return this.#starting
  }

  async #startWorkers(): Promise<void> {
    this.#state = 'starting'
    const started: Promise<void>[] = []
    for (const language of this.#options.languages) {
      const slots: WorkerSlot[] = []
      this.#queues.set(language, [])
      for (let i = 0; i < this.#options.workersPerLanguage; i++) {
        const slot = new WorkerSlot(language, this.#slotSettings(language))
        slots.push(slot)
        started.push(slot.start())
      }
      this.#slots.set(language, slots)
    }
    try {
      await Promise.all(started)
    } catch (error) {
      await this.stop()
      throw error
    }
    if (this.#state === 'starting') this.#state = 'running'
    this.#options.logger?.info({ languages: this.#options.languages }, 'sandbox pool started')
  }

  #slotSettings(language: SandboxLanguage): SlotSettings {
    const { memoryLimitBytes, outputCapBytes, graceMs, maxRunsPerWorker, workerHeapMb, logger } =
      this.#options
    return {
      memoryLimitBytes,
      outputCapBytes,
      graceMs,
      maxRunsPerWorker,
      workerHeapMb,
      logger,
      onIdle: () => this.#dispatch(language),
      onStartFailure: (error) => this.#failQueued(language, error),
    }
  }

  /** Terminates every worker; queued and running runs are rejected with SandboxStoppedError. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    this.#state = 'stopped'
    for (const queue of this.#queues.values()) {
      for (const run of queue.splice(0)) {
        run.detach()
        run.reject(new SandboxStoppedError())
      }
    }
    await Promise.all([...this.#slots.values()].flat().map((slot) => slot.stop()))
  }

  /**
   * Runs code, then tests, in the sandbox of the request's language. Failures of the code
   * are reported in the result, never thrown; this rejects only for an unusable request
   * or a pool that is not running.
   */
  run(request: SandboxRequest, signal?: AbortSignal): Promise<SandboxReport> {
    if (this.#state === 'stopped' || this.#state === 'new')
      return Promise.reject(new SandboxNotStartedError())
    try {
      validate(request, this.#options.languages)
    } catch (error) {
      return Promise.reject(error)
    }
    const report = enqueueRun(this.#queues, request, this.#options.deadlineMs, signal)
    this.#dispatch(request.language)
    return report
  }

  /** Per language: workers, busy workers and queued runs. */
  status(): Record<string, SandboxLanguageStatus> {
    const status: Record<string, SandboxLanguageStatus> = {}
    for (const [language, slots] of this.#slots) {
      const queued = this.#queues.get(language)?.length ?? 0
      status[language] = { workers: slots.length, busy: slots.filter((s) => s.busy).length, queued }
    }
    return status
  }

  #dispatch(language: SandboxLanguage): void {
    if (this.#state === 'stopped') return
    const queue = this.#queues.get(language) ?? []
    for (const slot of this.#slots.get(language) ?? []) {
      if (queue.length === 0) return
      if (!slot.idle) continue
      const run = queue.shift()!
      run.detach()
      const { request } = run
      slot
        .execute({
          code: request.code,
          tests: request.tests ?? '',
          deadlineMs: run.deadlineMs,
          signal: run.signal,
        })
        .then(run.resolve, run.reject)
    }
  }

  /** No worker of the language could start: queued runs fail rather than wait forever. */
  #failQueued(language: SandboxLanguage, error: Error): void {
    const slots = this.#slots.get(language) ?? []
    if (slots.some((slot) => slot.idle || slot.busy)) return
    for (const run of (this.#queues.get(language) ?? []).splice(0)) {
      run.detach()
      run.reject(error)
    }
  }
}
