import { randomBytes } from 'node:crypto'
import type { Agent } from '../harness.ts'
import { buildImage, docker, dockerReady, freePortPair, runContainer } from './docker.ts'

/** The seed node's image as the image tests build it (the second build is Docker's cache). */
export const SEED_IMAGE = 'edgecoder-seed:test'

/** Builds the seed image on the local base; returns how long the build took, in ms. */
export async function buildSeedImage(): Promise<number> {
  const { baseImage } = await dockerReady()
  return buildImage('deploy/fly/seed-node.Dockerfile', SEED_IMAGE, baseImage)
}

/** An agent running in a container of the seed image, seen by a test as it sees a process. */
export interface ContainerAgent extends Agent {
  /** The container's name (a restart on the same volume gets a new one). */
  name: string
  /** The Docker volume that holds its data dir: identity, store, token. */
  volume: string
  apiPort: number
  p2pPort: number
}

export interface ContainerAgentOptions {
  /** Arguments after `start` (the image's command). */
  args?: string[]
  /** An existing volume: the container is the same node again. A fresh one otherwise. */
  volume?: string
  /** Ports to listen on (host network); free ones otherwise. A restart keeps the old ones. */
  apiPort?: number
  p2pPort?: number
  /** How long to wait for the ready line. */
  timeoutMs?: number
}

const names = new Set<string>()
const volumes = new Set<string>()

/**
 * `docker run` of the seed image on the host network, as on Fly (its API on 0.0.0.0 behind its
 * token, libp2p on loopback on this shared machine), its data dir on a volume.
 */
export async function startContainerAgent(opts: ContainerAgentOptions = {}): Promise<ContainerAgent> {
  const id = randomBytes(4).toString('hex')
  const volume = opts.volume ?? `edgecoder-agent-${id}`
  if (opts.volume === undefined) await docker(['volume', 'create', volume])
  volumes.add(volume)
  const apiPort = opts.apiPort ?? (await freePortPair())
  const p2pPort = opts.p2pPort ?? (await freePortPair())
  const name = `edgecoder-agent-${id}`
  names.add(name)
  const env = {
    EDGECODER_API_PORT: String(apiPort),
    EDGECODER_P2P_PORT: String(p2pPort),
    EDGECODER_P2P_HOST: '127.0.0.1',
    EDGECODER_LOG_LEVEL: 'info',
  }
  const c = await runContainer(
    name,
    [
      '--network',
      'host',
      '-v',
      `${volume}:/data`,
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      SEED_IMAGE,
      'start',
      ...(opts.args ?? []),
    ],
    opts.timeoutMs,
  )
  const token = await docker(['exec', name, 'cat', '/data/api-token'])
  const apiUrl = `http://127.0.0.1:${apiPort}`
  return {
    name,
    volume,
    apiPort,
    p2pPort,
    ready: { ...c.ready, apiUrl },
    apiUrl,
    stderr: c.logs,
    api: (path, init = {}) => {
      const { json, ...rest } = init
      const headers = new Headers(rest.headers)
      headers.set('authorization', `Bearer ${token}`)
      if (json !== undefined) headers.set('content-type', 'application/json')
      return fetch(apiUrl + path, {
        ...rest,
        headers,
        body: json !== undefined ? JSON.stringify(json) : rest.body,
      })
    },
    stop: async (signal = 'SIGTERM') => {
      await docker(['kill', '--signal', signal, name]).catch(() => {}) // already stopped
      await c.ended
      return Number(await docker(['inspect', name, '--format', '{{.State.ExitCode}}']))
    },
  }
}

/** Removes every container and volume `startContainerAgent` made; call from afterAll. */
export async function cleanupContainers(): Promise<void> {
  for (const n of names) await docker(['rm', '-f', n]).catch(() => {})
  for (const v of volumes) await docker(['volume', 'rm', '-f', v]).catch(() => {})
  names.clear()
  volumes.clear()
}
