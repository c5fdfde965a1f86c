/**
 * Where start-up spends its time: named marks from the process's own start (performance's time
 * origin, before any of the agent's code loads) to ready. Marking is one array push, so the marks
 * are always taken; `edgecoder start --startup-trace` prints them once the agent is ready.
 */
const marks: { phase: string; at: number; cpu: NodeJS.CpuUsage }[] = []

/**
 * The phase that has just ended; its time runs from the previous mark (or the process's start).
 * Marks after `ready` (a mesh restarted for a new token) are not start-up's and are not kept.
 */
export function startupMark(phase: string): void {
  if (marks.at(-1)?.phase === 'ready') return
  marks.push({ phase, at: performance.now(), cpu: process.cpuUsage() })
}

export interface StartupTrace {
  /** Wall-clock time (ms since the epoch) of the process's start, so a supervisor can add its own spawn time. */
  processStart: number
  /**
   * Each phase's own time, the CPU time the process spent in it (all threads, user + system: on a
   * busy machine wall time stretches, CPU time much less) and when it ended, ms since the process's start.
   */
  phases: { phase: string; ms: number; cpuMs: number; endMs: number }[]
}

export function startupTrace(): StartupTrace {
  const round = (x: number) => Math.round(x * 10) / 10
  let prev = 0
  let prevCpu = 0
  const phases = marks.map(({ phase, at, cpu }) => {
    const ms = at - prev
    const cpuAt = (cpu.user + cpu.system) / 1000
    const cpuMs = cpuAt - prevCpu
    prev = at
    prevCpu = cpuAt
    return { phase, ms: round(ms), cpuMs: round(cpuMs), endMs: round(at) }
  })
  return { processStart: Math.round(performance.timeOrigin), phases }
}

/** The line `--startup-trace` prints on stderr, followed by the trace as JSON. */
export const STARTUP_TRACE_PREFIX = 'EDGECODER_STARTUP_TRACE '
