import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { rootCertificates } from 'node:tls'
import { promisify } from 'node:util'
import { READY_PREFIX, type ReadyLine } from '@edgecoder/protocol'
import { REPO_ROOT } from '../harness.ts'

const run = promisify(execFile)

/** `docker <args>`; throws with docker's stderr when it fails. */
export async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await run('docker', args, { timeout: timeoutMs, maxBuffer: 64 << 20 })
    return stdout.trim()
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    throw new Error(`docker ${args.slice(0, 3).join(' ')} failed: ${e.stderr || e.message}`)
  }
}

/**
 * The daemon and the local Debian base image, made by the project's own scripts. No fallback:
 * these tests run as root in CI, and a daemon that can't start is a failure, not a skip.
 */
export async function dockerReady(): Promise<{ baseImage: string }> {
  const script = (name: string) => join(REPO_ROOT, 'scripts', name)
  try {
    await run(script('docker-up.sh'), [], { timeout: 120_000 })
    const { stdout } = await run(script('docker-base.sh'), [], { timeout: 900_000 })
    return { baseImage: stdout.trim().split('\n').at(-1)! }
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    throw new Error(`Docker is needed for the image tests (run as root): ${e.stderr || e.message}`)
  }
}

/**
 * Builds an image from the repository root on the local base. A network that intercepts TLS
 * hands its certificate authority to npm inside the build (NODE_EXTRA_CA_CERTS, as on the host).
 */
export async function buildImage(
  dockerfile: string,
  tag: string,
  baseImage: string,
  opts: { noCache?: boolean } = {},
): Promise<number> {
  const started = performance.now()
  const extra = extraCertificateAuthorities()
  const caArgs = extra ? ['--build-arg', `EXTRA_CA_PEM=${extra}`] : []
  await docker(
    [
      'build',
      ...(opts.noCache ? ['--no-cache'] : []),
      '--network',
      'host',
      '-f',
      dockerfile,
      '--build-arg',
      `BASE_IMAGE=${baseImage}`,
      ...caArgs,
      '-t',
      tag,
      REPO_ROOT,
    ],
    900_000,
  )
  const ms = performance.now() - started
  // The image a rebuild replaced is left untagged: remove it, so repeated runs don't fill the disk.
  await docker(['image', 'prune', '-f', '--filter', 'label=org.edgecoder.image'])
  return ms
}

/** The certificates in NODE_EXTRA_CA_CERTS that Node does not already trust (a build arg is at most 128 KiB). */
function extraCertificateAuthorities(): string {
  const file = process.env.NODE_EXTRA_CA_CERTS
  if (!file) return ''
  const known = new Set(rootCertificates.map((c) => c.replace(/\s+/g, '')))
  const pems =
    readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  return pems.filter((p) => !known.has(p.replace(/\s+/g, ''))).join('\n')
}

/** A TCP port that is free, with the next one free too (libp2p WebSockets listens on port + 1). */
export async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await listenOnce(0)
    if (
      port < 65535 &&
      (await listenOnce(port + 1).then(
        () => true,
        () => false,
      ))
    )
      return port
  }
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(port, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
}

/** A container started by a test, with its ready line read from its log. */
export interface Container<R = ReadyLine> {
  name: string
  ready: R
  logs: () => string
  /** Resolves once `docker logs -f` ends, i.e. the container has stopped. */
  ended: Promise<void>
}

/** `docker run -d` then waits for the ready line (the agent's, or `readyPrefix`) in the container's log. */
export async function runContainer<R = ReadyLine>(
  name: string,
  runArgs: string[],
  timeoutMs = 120_000,
  readyPrefix: string = READY_PREFIX,
): Promise<Container<R>> {
  await docker(['run', '-d', '--name', name, ...runArgs])
  const follower: ChildProcess = spawn('docker', ['logs', '-f', name], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  follower.stderr!.on('data', (d) => {
    log += d
  })
  const ended = new Promise<void>((r) => follower.on('close', () => r()))
  const ready = await new Promise<R>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready within ${timeoutMs} ms\n${log}`)),
      timeoutMs,
    )
    createInterface({ input: follower.stdout! }).on('line', (line) => {
      log += `${line}\n`
      if (line.startsWith(readyPrefix)) {
        clearTimeout(timer)
        resolve(JSON.parse(line.slice(readyPrefix.length)))
      }
    })
    ended.then(() => {
      clearTimeout(timer)
      reject(new Error(`${name} stopped before it was ready\n${log}`))
    })
  })
  return { name, ready, logs: () => log, ended }
}
