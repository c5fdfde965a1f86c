import { fileURLToPath } from 'node:url'
import { type Confinement, detectConfinement, probeConfinement } from '../confine/index.ts'
import { SandboxNotStartedError, SandboxStoppedError } from '../errors.ts'
import { enqueueRun, type QueuedRun } from '../run-queue.ts'
import { validate } from '../runner/pool.ts'
import type { SandboxLanguage, SandboxLogger, SandboxReport, SandboxRequest } from '../types.ts'
import { HostProcess } from './host-process.ts'

const LANGUAGES: readonly SandboxLanguage[] = ['python', 'javascript']
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url))
const STATS_INTERVAL_MS = 10_000
const MiB = 1024 * 1024

/** Settings of a {@link Sandbox}. */
export interface SandboxProcessOptions {
  /** Default wall-clock limit per run (10 s). */
  deadlineMs?: number
  /** Heap of the guest interpreter (256 MiB). */
  memoryLimitBytes?: number
  /** stdout + stderr kept per run (64 KiB). */
  outputCapBytes?: number
  /** Runs at once per language, each in its own worker of the process (1). */
  workersPerLanguage?: number
  languages?: SandboxLanguage[]
  /** A process with no run for this long exits; 0 keeps it warm (5 min). */
  idleMs?: number
  /**
   * Private writable memory of one sandbox process (RLIMIT_DATA on Linux). Node, its worker heaps
   * and the interpreter take their share before the guest: 2 GiB plus 768 MiB per extra worker.
   */
  processMemoryBytes?: number
  /** The OS wall; found on this machine when left out. */
  confinement?: Confinement
  logger?: SandboxLogger
}

/** One sandbox process as `/health/runtime` shows it. */
export interface SandboxProcessStatus {
  language: SandboxLanguage
  pid: number | null
  state: 'starting' | 'warm' | 'retiring'
  rssBytes: number
  runs: number
  inFlight: number
}

export interface SandboxStatus {
  mechanism: Confinement['mechanism']
  confined: boolean
  memory: Confinement['memory']
  detail: string
  idleMs: number
  queued: number
  processes: SandboxProcessStatus[]
}

/**
 * Runs untrusted Python and JavaScript in sandbox processes of their own, one per language,
 * started on the first run, confined by the OS, kept warm for `idleMs`. A run that breaches its
 * time, memory or output limit takes its process down with it; the next run gets a fresh one.
 * Guest memory is never the agent's memory.
 */
export class Sandbox {
  readonly confinement: Confinement
  readonly #opts: Required<Omit<SandboxProcessOptions, 'logger' | 'confinement'>>
  readonly #logger?: SandboxLogger
  readonly #current = new Map<SandboxLanguage, HostProcess>()
  readonly #retiring = new Set<HostProcess>()
  readonly #queues = new Map<SandboxLanguage, QueuedRun[]>()
  readonly #idleTimers = new Map<SandboxLanguage, NodeJS.Timeout>()
  #state: 'new' | 'running' | 'stopped' = 'new'
  #statsTimer: NodeJS.Timeout | undefined

  constructor(options: SandboxProcessOptions = {}) {
    const workers = Math.max(1, Math.floor(options.workersPerLanguage ?? 1))
    this.#opts = {
      deadlineMs: options.deadlineMs ?? 10_000,
      memoryLimitBytes: options.memoryLimitBytes ?? 256 * MiB,
      outputCapBytes: options.outputCapBytes ?? 64 * 1024,
      workersPerLanguage: workers,
      languages: [...new Set(options.languages ?? LANGUAGES)],
      idleMs: options.idleMs ?? 300_000,
      processMemoryBytes: options.processMemoryBytes ?? (2048 + 768 * (workers - 1)) * MiB,
    }
    this.#logger = options.logger
    this.confinement = options.confinement ?? detectConfinement(PACKAGE_DIR)
    for (const language of this.#opts.languages) this.#queues.set(language, [])
  }

  /**
   * This machine's OS wall for sandbox processes, found without blocking the event loop: give it
   * as `confinement` (the constructor's own probe, when none is given, blocks while it runs).
   */
  static probe(): Promise<Confinement> {
    return probeConfinement(PACKAGE_DIR)
  }

  /** Takes runs from now on; processes start with the first run of their language. */
  async start(): Promise<void> {
    if (this.#state === 'stopped') throw new SandboxStoppedError()
    this.#state = 'running'
    this.#statsTimer = setInterval(() => this.#pollStats(), STATS_INTERVAL_MS).unref()
  }

  /** Starts a language's process now and waits until it is warm (benches, keep-warm setups). */
  async warm(language: SandboxLanguage): Promise<void> {
    await this.#process(language).ready
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    this.#state = 'stopped'
    clearInterval(this.#statsTimer)
    for (const timer of this.#idleTimers.values()) clearTimeout(timer)
    for (const queue of this.#queues.values()) {
      for (const run of queue.splice(0)) {
        run.detach()
        run.reject(new SandboxStoppedError())
      }
    }
    const all = [...this.#current.values(), ...this.#retiring]
    this.#current.clear()
    this.#retiring.clear()
    await Promise.all(all.map((host) => host.stop()))
  }

  /** Runs code, then tests; failures of the code are in the report, never thrown. */
  run(request: SandboxRequest, signal?: AbortSignal): Promise<SandboxReport> {
    if (this.#state !== 'running') return Promise.reject(new SandboxNotStartedError())
    try {
      validate(request, this.#opts.languages)
    } catch (error) {
      return Promise.reject(error)
    }
    const report = enqueueRun(this.#queues, request, this.#opts.deadlineMs, signal)
    this.#dispatch(request.language)
    return report
  }

  status(): SandboxStatus {
    const { mechanism, confined, memory, detail } = this.confinement
    const hosts = [...this.#current.values(), ...this.#retiring]
    return {
      mechanism,
      confined,
      memory,
      detail,
      idleMs: this.#opts.idleMs,
      queued: [...this.#queues.values()].reduce((n, q) => n + q.length, 0),
      processes: hosts.map((host) => ({
        language: host.language,
        pid: host.pid ?? null,
        state: host.retiring ? 'retiring' : host.rssBytes > 0 ? 'warm' : 'starting',
        rssBytes: host.rssBytes,
        runs: host.runs,
        inFlight: host.inFlight,
      })),
    }
  }

  #process(language: SandboxLanguage): HostProcess {
    const existing = this.#current.get(language)
    if (existing?.alive && !existing.retiring) return existing
    const { deadlineMs, memoryLimitBytes, outputCapBytes, workersPerLanguage } = this.#opts
    const host = new HostProcess({
      settings: { language, deadlineMs, memoryLimitBytes, outputCapBytes, workers: workersPerLanguage },
      processMemoryBytes: this.#opts.processMemoryBytes,
      confinement: this.confinement,
      logger: this.#logger,
      onRetire: (retired) => {
        if (this.#current.get(language) === retired) this.#current.delete(language)
        if (retired.alive) this.#retiring.add(retired)
        this.#dispatch(language)
      },
      onSettled: (settled) => {
        if (!settled.alive) this.#retiring.delete(settled)
        this.#dispatch(language)
      },
    })
    this.#current.set(language, host)
    this.#logger?.info(
      { language, pid: host.pid, confinement: this.confinement.mechanism },
      'sandbox process started',
    )
    return host
  }

  #dispatch(language: SandboxLanguage): void {
    for (const host of this.#retiring) if (!host.alive) this.#retiring.delete(host)
    if (this.#state !== 'running') return
    const queue = this.#queues.get(language)!
    while (queue.length > 0) {
      const host = this.#process(language)
      if (host.inFlight >= this.#opts.workersPerLanguage) break
      const run = queue.shift()!
      run.detach()
      host.run(run.request, run.deadlineMs, run.signal).then(run.resolve, run.reject)
    }
    this.#armIdle(language)
  }

  /** An idle process exits after `idleMs`; the next run starts a fresh one. */
  #armIdle(language: SandboxLanguage): void {
    clearTimeout(this.#idleTimers.get(language))
    this.#idleTimers.delete(language)
    const host = this.#current.get(language)
    if (!host || this.#opts.idleMs === 0 || host.inFlight > 0) return
    const timer = setTimeout(() => {
      if (this.#current.get(language) !== host || host.inFlight > 0) return
      this.#current.delete(language)
      this.#logger?.info({ language, pid: host.pid }, 'sandbox process idle: stopped')
      void host.stop()
    }, this.#opts.idleMs).unref()
    this.#idleTimers.set(language, timer)
  }

  #pollStats(): void {
    for (const host of this.#current.values()) host.poll()
  }
}
