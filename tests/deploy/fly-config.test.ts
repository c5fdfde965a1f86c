import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'smol-toml'
import { describe, expect, it } from 'vitest'
import { START_FLAGS } from '../../packages/agent/src/config.ts'
import { PORTAL_FLAGS } from '../../packages/portal/src/config.ts'
import { REPO_ROOT } from '../e2e/harness.ts'

const FLY = join(REPO_ROOT, 'deploy/fly')
const read = (name: string) => readFileSync(join(FLY, name), 'utf8')

interface Service {
  protocol: string
  internal_port: number
  ports: { port: number; handlers?: string[] }[]
  http_checks?: { path: string; method: string }[]
  tcp_checks?: unknown[]
  min_machines_running?: number
}
interface FlyApp {
  app: string
  primary_region: string
  kill_signal: string
  build: { dockerfile: string }
  env: Record<string, string>
  mounts: { source: string; destination: string }[]
  vm: { cpus: number; memory: string }[]
  services?: Service[]
  http_service?: { internal_port: number; checks: { path: string }[] }
  metrics?: { port: number; path: string }
}

const seedText = read('fly.seed-node.toml')
const seed = parse(seedText) as unknown as FlyApp
const portalText = read('fly.portal.toml')
const portal = parse(portalText) as unknown as FlyApp
const AGENT_ENV = new Set(Object.values(START_FLAGS).map((f) => f.env))

describe('fly.seed-node.toml', () => {
  const port = (name: string) => Number(seed.env[name])
  const serviceOn = (p: number) => seed.services?.find((s) => s.internal_port === p)

  it('runs the agent all-in-one on 2 CPUs and 8 GB in a named region', () => {
    expect(seed.env.EDGE_RUNTIME_MODE).toBe('all-in-one')
    expect(seed.vm).toHaveLength(1)
    expect(seed.vm[0]).toMatchObject({ cpus: 2, memory: '8gb' })
    expect(seed.primary_region).toMatch(/^[a-z]{3}$/)
    expect(seed.kill_signal).toBe('SIGTERM')
  })

  it('sets only settings the agent knows, and no secret', () => {
    for (const key of Object.keys(seed.env)) expect(AGENT_ENV, key).toContain(key)
    expect(seed.env).not.toHaveProperty('EDGECODER_MESH_TOKEN')
    expect(seedText).toMatch(/flyctl secrets set[^\n]*EDGECODER_MESH_TOKEN=/)
  })

  it('keeps its data dir on a volume', () => {
    expect(seed.mounts).toEqual([expect.objectContaining({ destination: seed.env.EDGECODER_DATA_DIR })])
  })

  it('passes the libp2p TCP port through as a raw TCP service, kept running', () => {
    const p2p = serviceOn(port('EDGECODER_P2P_PORT'))
    expect(p2p).toBeDefined()
    expect(p2p!.protocol).toBe('tcp')
    expect(p2p!.ports.every((x) => (x.handlers ?? []).length === 0)).toBe(true)
    expect(p2p!.ports.map((x) => x.port)).toContain(port('EDGECODER_P2P_PORT'))
    expect(p2p!.min_machines_running).toBe(1)
    // The announced address is the one peers reach.
    expect(seed.env.EDGECODER_ANNOUNCE).toContain(`/tcp/${port('EDGECODER_P2P_PORT')}`)
  })

  it('serves the API behind HTTP checks on /healthz and /readyz, and metrics for the scraper', () => {
    expect(seed.env.EDGECODER_API_HOST).toBe('0.0.0.0')
    const api = serviceOn(port('EDGECODER_API_PORT'))
    expect(api).toBeDefined()
    expect(api!.http_checks?.map((c) => c.path).sort()).toEqual(['/healthz', '/readyz'])
    expect(api!.ports.find((x) => x.port === 443)?.handlers).toEqual(['tls', 'http'])
    expect(seed.metrics).toEqual({ port: port('EDGECODER_API_PORT'), path: '/metrics' })
  })

  it('builds from the seed node Dockerfile, which exposes the ports the services use', () => {
    expect(existsSync(join(FLY, seed.build.dockerfile))).toBe(true)
    const exposed = read(seed.build.dockerfile)
      .match(/^EXPOSE (.+)$/m)![1]!
      .split(/\s+/)
      .map(Number)
    for (const s of seed.services ?? []) expect(exposed).toContain(s.internal_port)
  })
})

describe('fly.portal.toml', () => {
  it('sets only settings the portal knows', () => {
    const known = new Set(Object.values(PORTAL_FLAGS).map((f) => f.env))
    for (const key of Object.keys(portal.env)) expect(known, key).toContain(key)
  })

  it('uses its own PostgreSQL through the DATABASE_URL secret', () => {
    expect(portal.env).not.toHaveProperty('DATABASE_URL')
    expect(portalText).toMatch(/flyctl postgres attach edgecoder-portal-postgres -a edgecoder-portal/)
    expect(portalText).not.toMatch(/postgres:\/\//)
  })

  it("points its coordinator discovery at the seed node's API; a static seed address is only a secret", () => {
    const seedHost = seed.env.EDGECODER_ANNOUNCE!.match(/^\/dns4\/([^/]+)\//)![1]
    const p2pPort = seed.env.EDGECODER_P2P_PORT
    expect(portal.env.COORDINATOR_DISCOVERY_URL).toBe(`https://${seedHost}`)
    expect(seed.services?.some((s) => s.internal_port === Number(seed.env.EDGECODER_API_PORT))).toBe(true)
    expect(portal.env).not.toHaveProperty('EDGECODER_PORTAL_SEEDS')
    expect(portalText).toContain(
      `flyctl secrets set -a edgecoder-portal EDGECODER_PORTAL_SEEDS=/dns4/${seedHost}/tcp/${p2pPort}/p2p/<peer id>`,
    )
  })

  it('serves HTTP behind a /healthz check, with its key on a volume', () => {
    expect(portal.http_service!.internal_port).toBe(Number(portal.env.EDGECODER_PORTAL_PORT))
    expect(portal.http_service!.checks.map((c) => c.path)).toContain('/healthz')
    expect(portal.mounts).toEqual([
      expect.objectContaining({ destination: portal.env.EDGECODER_PORTAL_DATA_DIR }),
    ])
    expect(portal.env.EDGECODER_PORTAL_HOST).toBe('0.0.0.0')
    expect(existsSync(join(FLY, portal.build.dockerfile))).toBe(true)
  })
})
