import { type ChildProcess, spawn } from 'node:child_process'
import type { Confinement } from '../confine/index.ts'
import { SandboxRequestError, SandboxStartError, SandboxStoppedError } from '../errors.ts'
import { type FromHost, type HostSettings, lineReader, type ToHost } from '../host/wire.ts'
import type {
  SandboxLanguage,
  SandboxLogger,
  SandboxOutcome,
  SandboxReport,
  SandboxRequest,
} from '../types.ts'

const HOST_ENTRY = new URL('../host/main.ts', import.meta.url).pathname
/** Time the process has after a deadline and the in-process grace before it is killed from outside. */
const BACKSTOP_MS = 5_000
/** Pyodide takes seconds to load, more on a loaded machine. */
const START_TIMEOUT_MS = 120_000
const LOG_CHARS = 2_000
/** Outcomes after which the process may hold what the guest left behind: it is replaced. */
const BREACHES: ReadonlySet<SandboxOutcome> = new Set(['timeout', 'memory', 'output-limit'])

interface Pending {
  language: SandboxLanguage
  deadlineMs: number
  startedAt: number
  resolve: (report: SandboxReport) => void
  reject: (error: Error) => void
  backstop?: NodeJS.Timeout
  detach: () => void
}

export interface HostProcessOptions {
  settings: HostSettings
  processMemoryBytes: number
  confinement: Confinement
  logger?: SandboxLogger
  /** A run ended in a breach, or the process died: it takes no more runs. */
  onRetire: (host: HostProcess) => void
  /** A run finished; the process may be idle now. */
  onSettled: (host: HostProcess) => void
}

/** One sandbox process, as the agent sees it: started confined, fed runs, killed on breach. */
export class HostProcess {
  readonly language: SandboxLanguage
  readonly startedAt = Date.now()
  rssBytes = 0
  runs = 0
  retiring = false
  readonly #opts: HostProcessOptions
  readonly #child: ChildProcess
  readonly #pending = new Map<number, Pending>()
  readonly ready: Promise<void>
  #nextId = 1
  #exited = false
  #killedByUs = false
  #startTimer: NodeJS.Timeout

  constructor(opts: HostProcessOptions) {
    this.#opts = opts
    this.language = opts.settings.language
    const launch = opts.confinement.launch({
      args: ['--disable-warning=ExperimentalWarning', HOST_ENTRY, JSON.stringify(opts.settings)],
      memoryLimitBytes: opts.processMemoryBytes,
    })
    this.#child = spawn(launch.command, launch.args, {
      stdio: ['pipe', 'pipe', 'pipe', ...launch.extraFds],
      env: {},
    })
    launch.done()
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    this.ready = promise
    promise.catch(() => {}) // a failed start is reported to the runs waiting on it
    this.#startTimer = setTimeout(() => {
      reject(new SandboxStartError(`the ${this.language} sandbox process did not start in time`))
      this.kill()
    }, START_TIMEOUT_MS).unref()
    const read = lineReader((line) => this.#onMessage(line, resolve, reject))
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      if (!read(chunk)) this.kill()
    })
    this.#child.stderr!.setEncoding('utf8')
    this.#child.stderr!.on('data', (text: string) =>
      opts.logger?.debug(
        { language: this.language, text: text.slice(0, LOG_CHARS) },
        'sandbox process wrote',
      ),
    )
    this.#child.stdin!.on('error', () => {}) // a dead process: its exit reports the runs
    this.#child.on('error', (error) =>
      reject(new SandboxStartError(`cannot start the sandbox: ${error.message}`)),
    )
    this.#child.on('exit', (code, signal) => {
      this.#exited = true
      clearTimeout(this.#startTimer)
      reject(
        new SandboxStartError(
          `the ${this.language} sandbox process exited while starting (${signal ?? code})`,
        ),
      )
      this.#onExit(code, signal)
    })
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  get inFlight(): number {
    return this.#pending.size
  }

  get alive(): boolean {
    return !this.#exited
  }

  /** Sends one run; the caller has checked that this process has room for it. */
  run(request: SandboxRequest, deadlineMs: number, signal?: AbortSignal): Promise<SandboxReport> {
    const id = this.#nextId++
    const { promise, resolve, reject } = Promise.withResolvers<SandboxReport>()
    const onAbort = (): void => this.#send({ type: 'cancel', id })
    signal?.addEventListener('abort', onAbort, { once: true })
    const pending: Pending = {
      language: request.language,
      deadlineMs,
      startedAt: performance.now(),
      resolve,
      reject,
      detach: () => signal?.removeEventListener('abort', onAbort),
    }
    this.#pending.set(id, pending)
    this.runs++
    this.#send({ type: 'run', id, request: { ...request, deadlineMs } })
    // The process's own deadline acts first; this one holds when the process stops answering.
    this.ready.then(
      () => {
        if (!this.#pending.has(id)) return
        pending.startedAt = performance.now()
        pending.backstop = setTimeout(() => {
          this.#opts.logger?.warn({ language: this.language }, 'sandbox process missed a deadline: killed')
          this.#settle(id, stopped(pending, 'timeout', `the run exceeded its deadline of ${deadlineMs} ms`))
          this.#retire()
          this.kill()
        }, deadlineMs + BACKSTOP_MS)
      },
      (error: Error) => this.#fail(id, error),
    )
    if (signal?.aborted) onAbort()
    return promise
  }

  /** Asks the process how much memory it holds; the answer updates `rssBytes`. */
  poll(): void {
    this.#send({ type: 'stats' })
  }

  kill(): void {
    if (this.#exited) return
    this.#killedByUs = true
    this.#child.kill('SIGKILL')
  }

  /** Stops the process; runs still in it are rejected as stopped. */
  async stop(): Promise<void> {
    for (const id of [...this.#pending.keys()]) this.#fail(id, new SandboxStoppedError())
    if (this.#exited) return
    const exited = new Promise((r) => this.#child.once('exit', r))
    this.kill()
    await exited
  }

  #send(message: ToHost): void {
    if (this.#exited || !this.#child.stdin!.writable) return
    this.#child.stdin!.write(`${JSON.stringify(message)}\n`)
  }

  #onMessage(line: string, ready: () => void, failed: (error: Error) => void): void {
    let message: FromHost
    try {
      message = JSON.parse(line) as FromHost
    } catch {
      this.#opts.logger?.warn({ language: this.language }, 'unreadable line from the sandbox process')
      this.kill()
      return
    }
    if ('rssBytes' in message) this.rssBytes = message.rssBytes
    if (message.type === 'ready') {
      clearTimeout(this.#startTimer)
      ready()
    } else if (message.type === 'fatal') {
      failed(new SandboxStartError(`the ${this.language} sandbox failed: ${message.message}`))
      this.kill()
    } else if (message.type === 'report') {
      this.#settle(message.id, message.report)
      if (BREACHES.has(message.report.outcome)) this.#retire()
    } else if (message.type === 'refused') {
      const error =
        message.name === 'SandboxRequestError'
          ? new SandboxRequestError(message.message)
          : new Error(message.message)
      this.#fail(message.id, error)
    }
  }

  #settle(id: number, report: SandboxReport): void {
    const pending = this.#pending.get(id)
    if (!pending) return
    this.#pending.delete(id)
    clearTimeout(pending.backstop)
    pending.detach()
    pending.resolve(report)
    this.#afterRun()
  }

  #fail(id: number, error: Error): void {
    const pending = this.#pending.get(id)
    if (!pending) return
    this.#pending.delete(id)
    clearTimeout(pending.backstop)
    pending.detach()
    pending.reject(error)
    this.#afterRun()
  }

  #afterRun(): void {
    // A retired process is killed once the runs it still holds are done.
    if (this.retiring && this.#pending.size === 0) this.kill()
    this.#opts.onSettled(this)
  }

  #retire(): void {
    if (this.retiring) return
    this.retiring = true
    this.#opts.onRetire(this)
    if (this.#pending.size === 0) this.kill()
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    // Killed by the kernel or by V8 running out of memory, while not killed here: the memory limit.
    const memory =
      !this.#killedByUs &&
      (signal === 'SIGKILL' || signal === 'SIGABRT' || signal === 'SIGTRAP' || code === 134)
    for (const [id, pending] of [...this.#pending]) {
      if (memory)
        this.#settle(id, stopped(pending, 'memory', 'the run exceeded the sandbox process’s memory limit'))
      else
        this.#settle(
          id,
          stopped(pending, 'error', `the sandbox process died (${signal ?? `exit code ${code}`})`),
        )
    }
    this.#retire()
  }
}

function stopped(pending: Pending, outcome: SandboxOutcome, error: string): SandboxReport {
  return {
    language: pending.language,
    ok: false,
    outcome,
    passed: 0,
    failed: 0,
    total: 0,
    output: '',
    error,
    durationMs: Math.round(performance.now() - pending.startedAt),
  }
}
