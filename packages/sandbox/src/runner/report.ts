import type { SandboxLanguage, SandboxOutcome, SandboxReport } from '../types.ts'
import { Slot, StopReason, type WorkerResult } from './protocol.ts'

/** How a run ended, as the pool saw it. */
export interface RunEnd {
  language: SandboxLanguage
  /** What the worker reported; absent when the worker had to be terminated or died. */
  result?: WorkerResult
  /** The worker thread died of its V8 heap limit. */
  outOfMemory?: boolean
  /** Why the worker died, when it died on its own. */
  crash?: string
  control: Int32Array
  output: SharedArrayBuffer
  deadlineMs: number
  durationMs: number
}

function stopOutcome(reason: number): SandboxOutcome | undefined {
  if (reason === StopReason.timeout) return 'timeout'
  if (reason === StopReason.cancelled) return 'cancelled'
  if (reason === StopReason.outputLimit) return 'output-limit'
  return undefined
}

function outcomeOf(end: RunEnd, reason: number): SandboxOutcome {
  const { result } = end
  if (reason === StopReason.outputLimit) return 'output-limit'
  if (end.outOfMemory) return 'memory'
  // A run that finished before its interrupt took effect keeps its own result.
  if (!result || result.status === 'interrupted') return stopOutcome(reason) ?? 'error'
  if (result.status === 'memory') return 'memory'
  if (result.status === 'exception') return 'error'
  return result.failed > 0 ? 'failed' : 'passed'
}

function errorOf(end: RunEnd, outcome: SandboxOutcome): string | undefined {
  const capBytes = end.output.byteLength
  switch (outcome) {
    case 'timeout':
      return `the run exceeded its deadline of ${end.deadlineMs} ms`
    case 'cancelled':
      return 'the run was cancelled'
    case 'output-limit':
      return `the run wrote more than ${capBytes} bytes of output`
    case 'memory':
      return end.result?.error ?? 'the run exceeded its memory limit'
    default:
      if (end.crash) return end.crash
      if (end.result?.status === 'interrupted') return 'KeyboardInterrupt raised by the code'
      return end.result?.error ?? undefined // the Python harness sends null
  }
}

/** The output buffer's contents, with a marker where the cap cut it. */
export function readOutput(control: Int32Array, output: SharedArrayBuffer): string {
  const length = Math.min(Atomics.load(control, Slot.outputLength), output.byteLength)
  const text = Buffer.from(new Uint8Array(output, 0, length)).toString('utf8')
  if (Atomics.load(control, Slot.truncated) === 0) return text
  return `${text}\n[output truncated: more than ${output.byteLength} bytes]\n`
}

/** Turns what the worker and the pool saw into the report a caller gets. */
export function buildReport(end: RunEnd): SandboxReport {
  const reason = Atomics.load(end.control, Slot.reason)
  const outcome = outcomeOf(end, reason)
  const error = errorOf(end, outcome)
  return {
    language: end.language,
    ok: outcome === 'passed',
    outcome,
    passed: end.result?.passed ?? 0,
    failed: end.result?.failed ?? 0,
    total: end.result?.total ?? 0,
    output: readOutput(end.control, end.output),
    ...(error === undefined ? {} : { error }),
    durationMs: Math.round(end.durationMs),
  }
}

/** The report of a run that never reached a worker. */
export function cancelledBeforeStart(language: SandboxLanguage): SandboxReport {
  return {
    language,
    ok: false,
    outcome: 'cancelled',
    passed: 0,
    failed: 0,
    total: 0,
    output: '',
    error: 'the run was cancelled before it started',
    durationMs: 0,
  }
}
