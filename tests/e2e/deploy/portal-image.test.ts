import { randomBytes } from 'node:crypto'
import type { MeshPeer } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModelPath } from '../../../packages/agent/test/inference/test-model.ts'
import { PORTAL_READY_PREFIX, type PortalReady } from '../../../packages/portal/src/index.ts'
import { type PgCluster, startPgCluster } from '../../../packages/portal/test/helpers/pg-cluster.ts'
import { type AgentProcess, cleanupAgents, startAgent, waitFor } from '../harness.ts'
import { submitOk, waitForStatus } from '../tasks-helpers.ts'
import { buildImage, type Container, docker, dockerReady, freePortPair, runContainer } from './docker.ts'

/**
 * The two hosted apps together, as on Fly: the portal's image on a real PostgreSQL, listing the
 * seed node's container first; a local agent finds the seed through the portal and runs a task there.
 */
const SEED_IMAGE = 'edgecoder-seed:test'
const PORTAL_IMAGE = 'edgecoder-portal:test'
const MODEL = 'seed-model'
const id = randomBytes(4).toString('hex')
const containers: string[] = []
const volumes = [`edgecoder-portal-test-${id}`, `edgecoder-portal-test-seed-${id}`]

let pg: PgCluster
let seed: Container
let portal: Container<PortalReady>
let portalPort = 0
let local: AgentProcess

beforeAll(async () => {
  const { baseImage } = await dockerReady()
  const portalMs = await buildImage('deploy/fly/portal.Dockerfile', PORTAL_IMAGE, baseImage)
  const seedMs = await buildImage('deploy/fly/seed-node.Dockerfile', SEED_IMAGE, baseImage)
  console.log(
    `portal image: built in ${Math.round(portalMs / 1000)} s, seed in ${Math.round(seedMs / 1000)} s`,
  )
  pg = await startPgCluster()

  const [seedApi, seedP2p] = [await freePortPair(), await freePortPair()]
  const seedName = `edgecoder-portal-test-seed-${id}`
  containers.push(seedName)
  seed = await runContainer(seedName, [
    '--network',
    'host',
    '-v',
    `${volumes[1]}:/data`,
    // The model as a read-only file: this test is about discovery, not the first-start pull.
    '-v',
    `${testModelPath()}:/models/${MODEL}.gguf:ro`,
    '-e',
    `EDGECODER_MODEL=/models/${MODEL}.gguf`,
    '-e',
    `EDGECODER_API_PORT=${seedApi}`,
    '-e',
    `EDGECODER_P2P_PORT=${seedP2p}`,
    '-e',
    'EDGECODER_P2P_HOST=127.0.0.1',
    '-e',
    'EDGECODER_ADVERT_INTERVAL_MS=1000',
    '-e',
    'EDGECODER_LLAMA_THREADS=1',
    SEED_IMAGE,
  ])

  portalPort = await freePortPair()
  const portalName = `edgecoder-portal-test-${id}`
  containers.push(portalName)
  portal = await runContainer<PortalReady>(
    portalName,
    [
      '--network',
      'host',
      '-v',
      `${volumes[0]}:/data`,
      '-e',
      `DATABASE_URL=${pg.url}`,
      '-e',
      'EDGECODER_PORTAL_HOST=127.0.0.1',
      '-e',
      `EDGECODER_PORTAL_PORT=${portalPort}`,
      '-e',
      `EDGECODER_PORTAL_SEEDS=/ip4/127.0.0.1/tcp/${seedP2p}/p2p/${seed.ready.peerId}`,
      PORTAL_IMAGE,
    ],
    120_000,
    PORTAL_READY_PREFIX,
  )
}, 1_200_000)

afterAll(async () => {
  await cleanupAgents()
  for (const c of containers) await docker(['rm', '-f', c]).catch(() => {})
  for (const v of volumes) await docker(['volume', 'rm', '-f', v]).catch(() => {})
  await pg?.stop()
})

describe('portal image', () => {
  it('runs as a non-root user on its own PostgreSQL, with a working health check on /healthz, and serves its UI', async () => {
    expect(portal.ready).toMatchObject({ database: 'postgres' })
    const [info] = JSON.parse(await docker(['inspect', portal.name])) as {
      Config: { Healthcheck: { Test: string[] } }
      Mounts: { Destination: string }[]
    }[]
    expect(await docker(['exec', portal.name, 'stat', '-c', '%u', '/proc/1'])).toBe('10001')
    expect(await docker(['exec', portal.name, 'stat', '-c', '%u %a', '/data/portal.key'])).toBe('10001 600')
    expect(info!.Mounts.map((m) => m.Destination)).toEqual(['/data'])
    expect(info!.Config.Healthcheck.Test.join(' ')).toContain('/healthz')
    await docker(['exec', portal.name, ...info!.Config.Healthcheck.Test.slice(1)])
    expect((await fetch(`http://127.0.0.1:${portalPort}/healthz`)).status).toBe(200)
    const ui = await fetch(`http://127.0.0.1:${portalPort}/`)
    expect(ui.status).toBe(200)
    expect(await ui.text()).toMatch(/<script[^>]+src="\/assets\//)
  })

  it('lists the seed first in its discovery URL, through which a local agent joins the seed and runs a task there', async () => {
    const list = (await (await fetch(`http://127.0.0.1:${portalPort}/network/coordinators`)).json()) as {
      coordinators: { peerId: string }[]
    }
    expect(list.coordinators[0]?.peerId).toBe(seed.ready.peerId)
    local = await startAgent({
      args: [
        '--discovery-url',
        `http://127.0.0.1:${portalPort}`,
        '--p2p-host',
        '127.0.0.1',
        '--advert-interval-ms',
        '1000',
      ],
      timeoutMs: 60_000,
    })
    await waitFor(
      async () => {
        const peers = (await (await local.api('/mesh/peers')).json()) as { peers: MeshPeer[] }
        return peers.peers.some(
          (p) => p.peerId === seed.ready.peerId && p.models.some((m) => m.name === MODEL),
        )
      },
      60_000,
      200,
    ).catch((err) => {
      throw new Error(
        `${(err as Error).message}\nlocal:\n${local.stderr().slice(-3000)}\nseed:\n${seed.logs().slice(-3000)}`,
      )
    })
    const task = await submitOk(local, {
      kind: 'chat',
      messages: [{ role: 'user', content: 'Say hello.' }],
      maxTokens: 8,
      temperature: 0,
    })
    const t = await waitForStatus(local, task, undefined, 120_000)
    expect(t.status).toBe('succeeded')
    expect(t.executor).toMatchObject({ peerId: seed.ready.peerId, local: false })
  })

  it('stops cleanly within 10 s on SIGTERM', async () => {
    const started = performance.now()
    await docker(['kill', '--signal', 'SIGTERM', portal.name])
    await portal.ended
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(await docker(['inspect', portal.name, '--format', '{{.State.ExitCode}}'])).toBe('0')
  })
})
