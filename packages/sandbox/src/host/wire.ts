// What the agent and its sandbox process say to each other: one JSON object per line, the
// agent's on the process's stdin, the process's on its stdout.

import type { SandboxLanguage, SandboxReport, SandboxRequest } from '../types.ts'

/** Settings a sandbox process is started with, passed as its one argument. */
export interface HostSettings {
  language: SandboxLanguage
  deadlineMs: number
  memoryLimitBytes: number
  outputCapBytes: number
  workers: number
}

export type ToHost =
  | { type: 'run'; id: number; request: SandboxRequest }
  | { type: 'cancel'; id: number }
  | { type: 'stats' }

export type FromHost =
  | { type: 'ready'; rssBytes: number }
  | { type: 'report'; id: number; report: SandboxReport; rssBytes: number }
  | { type: 'refused'; id: number; name: string; message: string }
  | { type: 'stats'; rssBytes: number }
  | { type: 'fatal'; message: string }

/** A line longer than this is not a message but an attack or a bug: the reader stops. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024

/** Splits a byte stream into lines, calling `onLine` for each; false once a line was too long. */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer) => boolean {
  let pending: Buffer[] = []
  let pendingBytes = 0
  return (chunk) => {
    let start = 0
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, at))
      const line = Buffer.concat(pending).toString('utf8')
      pending = []
      pendingBytes = 0
      start = at + 1
      if (line.length > 0) onLine(line)
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start))
      pendingBytes += chunk.length - start
    }
    return pendingBytes <= MAX_LINE_BYTES
  }
}
