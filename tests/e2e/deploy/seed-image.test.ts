import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MeshPeer } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testModelPath } from '../../../packages/agent/test/inference/test-model.ts'
import { type AgentProcess, cleanupAgents, startAgent, waitFor } from '../harness.ts'
import { submitOk, waitForStatus } from '../tasks-helpers.ts'
import { buildImage, type Container, docker, dockerReady, freePortPair, runContainer } from './docker.ts'

/**
 * The seed node's image, built from the local Debian base and run as Fly runs it: a volume for
 * the data dir, its model pulled on first start, a local agent joining it through the discovery URL.
 */
const IMAGE = 'edgecoder-seed:test'
const MODEL = 'seed-model'
const MESH_TOKEN = `seed-test-${randomBytes(8).toString('hex')}`
const id = randomBytes(4).toString('hex')
const volume = `edgecoder-seed-test-${id}`
const containers: string[] = []

let modelServer: Server
let modelUrl = ''
let sha256 = ''
let downloads = 0
let apiPort = 0
let p2pPort = 0
let seed: Container
let token = ''
let local: AgentProcess

const seedUrl = () => `http://127.0.0.1:${apiPort}`
const seedApi = (path: string, auth = true) =>
  fetch(seedUrl() + path, { headers: auth ? { authorization: `Bearer ${token}` } : {} })

function startSeed(n: number): Promise<Container> {
  const name = `edgecoder-seed-test-${id}-${n}`
  containers.push(name)
  return runContainer(name, [
    '--network',
    'host',
    '-v',
    `${volume}:/data`,
    '-e',
    `EDGECODER_API_PORT=${apiPort}`,
    '-e',
    `EDGECODER_P2P_PORT=${p2pPort}`,
    // Loopback only on this shared machine; on Fly the default 0.0.0.0 holds.
    '-e',
    'EDGECODER_P2P_HOST=127.0.0.1',
    '-e',
    'EDGECODER_ADVERT_INTERVAL_MS=1000',
    '-e',
    'EDGECODER_LLAMA_THREADS=1',
    '-e',
    `EDGECODER_MESH_TOKEN=${MESH_TOKEN}`,
    '-e',
    `EDGECODER_MODEL_URL=${modelUrl}`,
    '-e',
    `EDGECODER_MODEL_SHA256=${sha256}`,
    IMAGE,
  ])
}

beforeAll(async () => {
  const { baseImage } = await dockerReady()
  const buildMs = await buildImage('deploy/fly/seed-node.Dockerfile', IMAGE, baseImage)
  console.log(`seed image: built in ${Math.round(buildMs / 1000)} s from ${baseImage}`)

  const path = testModelPath()
  sha256 = await new Promise<string>((resolve) => {
    const h = createHash('sha256')
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
  })
  // The model's home on the internet, played by a local server (the container shares the host network).
  modelServer = createServer((req, res) => {
    if (req.url !== `/${MODEL}.gguf`) return void res.writeHead(404).end()
    downloads++
    res.writeHead(200, { 'content-length': statSync(path).size })
    createReadStream(path).pipe(res)
  })
  await new Promise<void>((r) => modelServer.listen(0, '127.0.0.1', r))
  modelUrl = `http://127.0.0.1:${(modelServer.address() as { port: number }).port}/${MODEL}.gguf`

  apiPort = await freePortPair()
  p2pPort = await freePortPair()
  await docker(['volume', 'create', volume])
  seed = await startSeed(1)
  token = await docker(['exec', seed.name, 'cat', '/data/api-token'])
}, 1_200_000)

afterAll(async () => {
  await cleanupAgents()
  for (const c of containers) await docker(['rm', '-f', c]).catch(() => {})
  await docker(['volume', 'rm', '-f', volume]).catch(() => {})
  modelServer?.close()
})

describe('seed node image', () => {
  it('runs the agent as a non-root user, its data on the volume, with a health check on /healthz', async () => {
    const [info] = JSON.parse(await docker(['inspect', seed.name])) as {
      Config: { Healthcheck: { Test: string[] } }
      Mounts: { Name: string; Destination: string }[]
    }[]
    expect(await docker(['exec', seed.name, 'stat', '-c', '%u', '/proc/1'])).toBe('10001')
    expect(await docker(['exec', seed.name, 'stat', '-c', '%u %a', '/data/identity.key'])).toBe('10001 600')
    expect(info!.Mounts.map((m) => `${m.Name}:${m.Destination}`)).toEqual([`${volume}:/data`])
    expect(seed.ready.dataDir).toBe('/data')
    const test = info!.Config.Healthcheck.Test
    expect(test.join(' ')).toContain('/healthz')
    // The health check's own command, run inside the container, passes.
    await docker(['exec', seed.name, ...test.slice(1)])
    // PID 1 is the agent's bundle with the memory flags bin/edgecoder uses, not its sources.
    const cmdline = (await docker(['exec', seed.name, 'cat', '/proc/1/cmdline'])).split('\0')
    expect(cmdline).toContain('/app/packages/agent/dist/edgecoder.js')
    expect(cmdline).toContain('--max-semi-space-size=1')
    const env = await docker(['exec', seed.name, 'printenv', 'GLIBC_TUNABLES'])
    expect(env).toContain('glibc.malloc.mmap_threshold=32768')
  })

  it('takes over a data dir the host mounts as root, as Fly mounts its volumes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgecoder-seed-mount-'))
    try {
      const [api, p2p] = [await freePortPair(), await freePortPair()]
      const name = `edgecoder-seed-test-${id}-mount`
      containers.push(name)
      const c = await runContainer(name, [
        '--network',
        'host',
        '-v',
        `${dir}:/data`,
        '-e',
        `EDGECODER_API_PORT=${api}`,
        '-e',
        `EDGECODER_P2P_PORT=${p2p}`,
        '-e',
        'EDGECODER_P2P_HOST=127.0.0.1',
        IMAGE,
      ])
      expect(statSync(join(dir, 'identity.key')).uid).toBe(10001)
      expect(statSync(dir).mode & 0o777).toBe(0o700)
      await docker(['stop', '--time', '10', name])
      await c.ended
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('answers /healthz, /readyz and /metrics without the token, and nothing else', async () => {
    expect((await seedApi('/healthz', false)).status).toBe(200)
    const ready = await seedApi('/readyz', false)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'ready' })
    const metrics = await seedApi('/metrics', false)
    expect(metrics.status).toBe(200)
    expect(await metrics.text()).toMatch(/^edgecoder_process_resident_memory_bytes \d+/m)
    expect((await seedApi('/status', false)).status).toBe(401)
    expect((await seedApi('/status')).status).toBe(200)
    const runtime = (await (await seedApi('/health/runtime')).json()) as {
      mode: string
      provider: { name: string }
    }
    expect(runtime.mode).toBe('all-in-one')
    expect(runtime.provider.name).toBe('embedded')
  })

  it('pulls the model named in its config into the volume on first start, checked by sha256', async () => {
    await waitFor(
      async () => {
        const list = (await (await seedApi('/model/list')).json()) as { models: { name: string }[] }
        return list.models.some((m) => m.name === MODEL)
      },
      120_000,
      250,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${seed.logs().slice(-3000)}`)
    })
    expect(downloads).toBe(1)
    expect(seed.logs()).toMatch(/model pulled and verified/)
  })

  it('is joined by a local agent through the discovery URL, and runs its task', async () => {
    // Until the portal serves the public list, the seed's own /network/coordinators is the discovery URL.
    const coordinators = (await (await seedApi('/network/coordinators', false)).json()) as {
      coordinators: { peerId: string }[]
    }
    expect(coordinators.coordinators.map((c) => c.peerId)).toContain(seed.ready.peerId)
    local = await startAgent({
      args: [
        '--discovery-url',
        seedUrl(),
        '--p2p-host',
        '127.0.0.1',
        '--advert-interval-ms',
        '1000',
        '--mesh-token',
        MESH_TOKEN,
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
    expect(t.result!.text!.length).toBeGreaterThan(0)
    expect(t.executor).toMatchObject({ peerId: seed.ready.peerId, local: false })
    const metrics = await (await seedApi('/metrics', false)).text()
    expect(metrics).toMatch(/^edgecoder_/m)
  })

  it('stops cleanly within 10 s on SIGTERM, and comes back as the same node from its volume', async () => {
    const started = performance.now()
    await docker(['kill', '--signal', 'SIGTERM', seed.name])
    await seed.ended
    const stopMs = performance.now() - started
    console.log(`seed image: stopped ${Math.round(stopMs)} ms after SIGTERM`)
    expect(stopMs).toBeLessThan(10_000)
    expect(await docker(['inspect', seed.name, '--format', '{{.State.ExitCode}}'])).toBe('0')
    expect(seed.logs()).toMatch(/"msg":"stopped"/)

    const again = await startSeed(2)
    expect(again.ready.peerId).toBe(seed.ready.peerId)
    // The model came with the volume: no second download.
    await waitFor(() => /model present/.test(again.logs()), 30_000, 100)
    expect(downloads).toBe(1)
    await docker(['stop', '--time', '10', again.name])
  })
})
