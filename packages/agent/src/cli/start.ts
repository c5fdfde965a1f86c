import { READY_PREFIX } from '@edgecoder/protocol'
import { ConfigError, loadConfig } from '../config.ts'
import { createLogger } from '../logger.ts'
import { EdgeNode, PortInUseError } from '../node.ts'
import { STARTUP_TRACE_PREFIX, startupMark, startupTrace } from '../startup-trace.ts'
import { DataDirLockedError } from '../store/index.ts'

const STOP_DEADLINE_MS = 10_000
const PARENT_POLL_MS = 1_000

/** `edgecoder start`: runs the agent in the foreground until a signal, or until its parent dies. */
export async function startCommand(argv: string[]): Promise<number> {
  startupMark('load')
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(argv)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`edgecoder: ${err.message}\n`)
      return 1
    }
    throw err
  }
  startupMark('config')
  const log = createLogger(config.logLevel)
  const node = new EdgeNode(config, log)
  let ready: Awaited<ReturnType<EdgeNode['start']>>
  try {
    ready = await node.start()
  } catch (err) {
    if (err instanceof DataDirLockedError || err instanceof PortInUseError) {
      process.stderr.write(`edgecoder: ${err.message}\n`)
      return 1
    }
    log.fatal({ err }, 'agent failed to start')
    process.stderr.write(`edgecoder: failed to start: ${(err as Error).message}\n`)
    return 1
  }

  if (node.apiToken.created) {
    process.stderr.write(
      `edgecoder: API token created in ${config.dataDir}/api-token (needed when the API is bound beyond loopback)\n`,
    )
  }
  return await new Promise<number>((resolve) => {
    let stopping = false
    const stop = (reason: string) => {
      if (stopping) {
        // The parent poll is not a second request: only a repeated signal cuts shutdown short.
        if (reason.startsWith('parent ')) return
        log.warn({ reason }, 'second signal: exiting now')
        process.exit(130)
      }
      stopping = true
      log.info({ reason }, 'stopping')
      const force = setTimeout(() => {
        log.error('parts did not stop within 10 s: exiting')
        process.exit(1)
      }, STOP_DEADLINE_MS)
      force.unref()
      node.close().then(
        () => {
          clearTimeout(force)
          log.info('stopped')
          resolve(0)
        },
        (err) => {
          log.error({ err }, 'stop failed')
          resolve(1)
        },
      )
    }
    process.on('SIGTERM', () => stop('SIGTERM'))
    process.on('SIGINT', () => stop('SIGINT'))
    if (config.parentPid !== null) {
      const parent = config.parentPid
      setInterval(() => {
        if (!processAlive(parent)) stop(`parent ${parent} exited`)
      }, PARENT_POLL_MS).unref()
    }
    // Only now: a supervisor may signal as soon as it reads the ready line.
    log.info({ ...ready }, 'agent ready')
    process.stdout.write(`${READY_PREFIX}${JSON.stringify(ready)}\n`)
    startupMark('ready')
    if (config.startupTrace)
      process.stderr.write(`${STARTUP_TRACE_PREFIX}${JSON.stringify(startupTrace())}\n`)
    void node.modelHint().then((pull) => {
      if (pull !== null && !stopping)
        process.stderr.write(
          `edgecoder: no model here yet (chat and code go to peers that have one); get a small coding model with:\n  ${pull}\n`,
        )
    })
  })
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
