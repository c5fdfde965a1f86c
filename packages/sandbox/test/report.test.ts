import { describe, expect, it } from 'vitest'
import { CONTROL_SLOTS, OutputSink, Slot, StopReason, type WorkerResult } from '../src/runner/protocol.ts'
import { buildReport, type RunEnd } from '../src/runner/report.ts'

function end(overrides: Partial<RunEnd> = {}, reason = 0): RunEnd {
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4))
  Atomics.store(control, Slot.reason, reason)
  return {
    language: 'python',
    control,
    output: new SharedArrayBuffer(32),
    deadlineMs: 1000,
    durationMs: 12.4,
    ...overrides,
  }
}
const result = (r: Partial<WorkerResult>): WorkerResult => ({
  status: 'completed',
  passed: 0,
  failed: 0,
  total: 0,
  ...r,
})

describe('buildReport', () => {
  it('passes only a clean run with no failed test', () => {
    expect(buildReport(end({ result: result({ passed: 2, total: 2 }) }))).toEqual({
      language: 'python',
      ok: true,
      outcome: 'passed',
      passed: 2,
      failed: 0,
      total: 2,
      output: '',
      durationMs: 12,
    })
    const failing = buildReport(
      end({ result: result({ passed: 1, failed: 1, total: 2, error: 'test_x: boom' }) }),
    )
    expect(failing).toMatchObject({ ok: false, outcome: 'failed', error: 'test_x: boom' })
  })

  it('names the reason a run was stopped', () => {
    expect(buildReport(end({}, StopReason.timeout))).toMatchObject({
      outcome: 'timeout',
      ok: false,
      total: 0,
    })
    expect(
      buildReport(end({ result: result({ status: 'interrupted' }) }, StopReason.cancelled)).outcome,
    ).toBe('cancelled')
    // a KeyboardInterrupt the code raised itself is an error, not a timeout
    expect(buildReport(end({ result: result({ status: 'interrupted' }) })).outcome).toBe('error')
  })

  it('keeps the result of a run that finished before its interrupt took effect', () => {
    const report = buildReport(end({ result: result({ passed: 1, total: 1 }) }, StopReason.timeout))
    expect(report.outcome).toBe('passed')
  })

  it('reports a worker that died of its heap limit as memory', () => {
    expect(buildReport(end({ outOfMemory: true, crash: 'the sandbox worker died' }))).toMatchObject({
      outcome: 'memory',
      ok: false,
      error: 'the run exceeded its memory limit',
    })
    expect(buildReport(end({ crash: 'the sandbox worker died: exit code 1' }))).toMatchObject({
      outcome: 'error',
      error: 'the sandbox worker died: exit code 1',
    })
  })

  it('caps the output, marks the cut, and calls the run an output-limit', () => {
    const run = end()
    const sink = new OutputSink(run.control.buffer as SharedArrayBuffer, run.output, () => {})
    sink.writeText('héllo ')
    sink.writeText('x'.repeat(100))
    const report = buildReport({ ...run, result: result({ status: 'interrupted' }) })
    expect(report.outcome).toBe('output-limit')
    expect(report.output).toBe(`héllo ${'x'.repeat(25)}\n[output truncated: more than 32 bytes]\n`)
    expect(Atomics.load(run.control, Slot.interrupt)).toBe(2) // the guest was asked to stop
  })
})
