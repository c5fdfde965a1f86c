import pino from 'pino'
import { ConfigError, loadPortalConfig, PORTAL_FLAGS } from './config.ts'
import { DataDirLockedError } from './lock.ts'
import { PORTAL_READY_PREFIX, Portal } from './portal.ts'

const STOP_DEADLINE_MS = 10_000

export const PORTAL_USAGE = `Usage: edgecoder portal start [flags]

Flags (each also an environment variable; flags win):
${Object.entries(PORTAL_FLAGS)
  .map(([k, v]) => `  --${k.padEnd(16)} ${v.env.padEnd(30)} ${v.help}`)
  .join('\n')}
`

/** `edgecoder portal start`: runs the portal in the foreground until SIGTERM/SIGINT. */
export async function portalCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv
  if (verb !== 'start') {
    process.stdout.write(PORTAL_USAGE)
    return verb === undefined || verb === 'help' || verb === '--help' ? 0 : 2
  }
  let config: ReturnType<typeof loadPortalConfig>
  try {
    config = loadPortalConfig(rest)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`edgecoder portal: ${err.message}\n`)
      return 1
    }
    throw err
  }
  const log = pino(
    { level: config.logLevel, base: { pid: process.pid, part: 'portal' } },
    pino.destination({ fd: 2, sync: true }),
  )
  const portal = new Portal(config, log)
  let ready: Awaited<ReturnType<Portal['start']>>
  try {
    ready = await portal.start()
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`edgecoder portal: ${err.message}\n`)
      return 1
    }
    log.fatal({ err }, 'portal failed to start')
    process.stderr.write(`edgecoder portal: failed to start: ${(err as Error).message}\n`)
    return 1
  }
  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (reason: string) => {
      if (stopping) process.exit(130)
      stopping = true
      log.info({ reason }, 'stopping')
      const force = setTimeout(() => {
        log.error('portal did not stop within 10 s: exiting')
        process.exit(1)
      }, STOP_DEADLINE_MS)
      force.unref()
      portal.close().then(
        () => {
          clearTimeout(force)
          resolve(0)
        },
        () => resolve(1),
      )
    }
    process.on('SIGTERM', () => stop('SIGTERM'))
    process.on('SIGINT', () => stop('SIGINT'))
    log.info({ ...ready }, 'portal ready')
    process.stdout.write(`${PORTAL_READY_PREFIX}${JSON.stringify(ready)}\n`)
  })
}
