// The sandbox process: one language's interpreters, warm, behind the OS confinement the agent
// started it in. It reads run requests on stdin and answers on stdout; when stdin closes (the
// agent stopped or died) it exits.

import { writeSync } from 'node:fs'
import { SandboxPool } from '../runner/pool.ts'
import type { FromHost, HostSettings, ToHost } from './wire.ts'
import { lineReader } from './wire.ts'

const settings = JSON.parse(process.argv[2] ?? '{}') as HostSettings
const pool = new SandboxPool({
  languages: [settings.language],
  deadlineMs: settings.deadlineMs,
  memoryLimitBytes: settings.memoryLimitBytes,
  outputCapBytes: settings.outputCapBytes,
  workersPerLanguage: settings.workers,
  // The agent replaces the whole process after a breach; within it, workers never wear out.
  maxRunsPerWorker: Number.MAX_SAFE_INTEGER,
})
const running = new Map<number, AbortController>()

/** Synchronous, so a message is out before the process can be killed or exit. */
function send(message: FromHost): void {
  const bytes = Buffer.from(`${JSON.stringify(message)}\n`)
  for (let at = 0; at < bytes.length; ) {
    try {
      at += writeSync(1, bytes, at)
    } catch (error) {
      // A full pipe: the agent reads it promptly, so wait for room rather than drop the message.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
    }
  }
}
const rss = (): number => process.memoryUsage.rss()

function handle(message: ToHost): void {
  if (message.type === 'stats') {
    send({ type: 'stats', rssBytes: rss() })
    return
  }
  if (message.type === 'cancel') {
    running.get(message.id)?.abort()
    return
  }
  const controller = new AbortController()
  running.set(message.id, controller)
  pool
    .run(message.request, controller.signal)
    .then(
      (report) => send({ type: 'report', id: message.id, report, rssBytes: rss() }),
      (error: Error) => send({ type: 'refused', id: message.id, name: error.name, message: error.message }),
    )
    .finally(() => running.delete(message.id))
}

const read = lineReader((line) => {
  let message: ToHost
  try {
    message = JSON.parse(line) as ToHost
  } catch {
    return send({ type: 'fatal', message: 'unreadable message from the agent' })
  }
  handle(message)
})
process.stdin.on('data', (chunk: Buffer) => {
  if (!read(chunk)) {
    send({ type: 'fatal', message: 'message from the agent too long' })
    process.exit(1)
  }
})
process.stdin.on('end', () => process.exit(0))

try {
  await pool.start()
  send({ type: 'ready', rssBytes: rss() })
} catch (error) {
  send({ type: 'fatal', message: error instanceof Error ? error.message : String(error) })
  process.exit(1)
}
