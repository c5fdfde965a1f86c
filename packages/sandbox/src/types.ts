/** The languages the sandbox runs. */
export type SandboxLanguage = 'python' | 'javascript'

/** How a run ended; `passed` and `failed` mean the code ran and the tests were counted. */
export type SandboxOutcome =
  | 'passed'
  | 'failed'
  | 'error'
  | 'timeout'
  | 'memory'
  | 'output-limit'
  | 'cancelled'

/** Code to run, then tests to run against it in the same global scope. */
export interface SandboxRequest {
  language: SandboxLanguage
  code: string
  tests?: string
  /** Wall-clock limit for this run; the pool's default when left out. */
  deadlineMs?: number
}

/** What happened when a request ran. */
export interface SandboxReport {
  language: SandboxLanguage
  /** True only when the code ran without error and every test passed. */
  ok: boolean
  outcome: SandboxOutcome
  passed: number
  failed: number
  total: number
  /** stdout and stderr interleaved, capped, with a marker where it was cut. */
  output: string
  /** The exception or the reason the run was stopped. */
  error?: string
  durationMs: number
}

/** The subset of a pino logger the sandbox writes to. */
export interface SandboxLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/** Settings of a {@link SandboxPool}. */
export interface SandboxOptions {
  /** Default wall-clock limit per run (10 s). */
  deadlineMs?: number
  /** Heap of the guest interpreter: the Pyodide wasm memory, the QuickJS runtime (256 MiB). */
  memoryLimitBytes?: number
  /** stdout + stderr kept per run (64 KiB); a run that writes more is stopped. */
  outputCapBytes?: number
  /** Time a run gets to stop after its interrupt before its worker is terminated (750 ms). */
  graceMs?: number
  /** Warm workers per language (1). */
  workersPerLanguage?: number
  /** Languages to start workers for (both). */
  languages?: SandboxLanguage[]
  /** A worker is replaced after this many runs, bounding what a run can leave behind (200). */
  maxRunsPerWorker?: number
  /** V8 old-generation limit of each worker thread, in MiB (256). */
  workerHeapMb?: number
  logger?: SandboxLogger
}
