import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, REPO_ROOT, tempDataDir } from './harness.ts'
import { startMeshAgent, statsOf, tcpAddr } from './mesh-helpers.ts'

/**
 * A second implementation joins the mesh: tests/interop/go-peer, written with go-libp2p from
 * docs/protocol.md alone, checks the protocol's test vectors, joins a real agent's private mesh
 * with the token's pre-shared key, verifies a gossiped advert's signature, and is refused without
 * the token or with another one.
 */
const run = promisify(execFile)
const GO_PEER_DIR = join(REPO_ROOT, 'tests/interop/go-peer')
const TOKEN = 'interop-mesh-0123456789abcdef'
/** A cold build (empty Go build cache) of go-libp2p took about 2.5 min on two busy cores. */
const BUILD_TIMEOUT_MS = 8 * 60_000

/** scripts/setup-go.sh's Go (scripts/test exports it), else the usual install, else PATH's. */
function goBinary(): string {
  if (process.env.EDGECODER_GO) return process.env.EDGECODER_GO
  const local = '/usr/local/go/bin/go'
  return existsSync(local) ? local : 'go'
}

interface JoinResult {
  ok: boolean
  private: boolean
  connected: boolean
  stage?: string
  error?: string
  remote?: string
  advert?: { peerId: string; author: string; verified: boolean; seq: number; bytes: number }
}

let peerBin = ''
let privateAgent: AgentProcess
let openAgent: AgentProcess

/** Runs the Go peer; it prints one JSON line and exits 0 only on success. */
async function goPeer(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: JoinResult }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env }
  if (!('EDGECODER_MESH_TOKEN' in env)) delete childEnv.EDGECODER_MESH_TOKEN
  try {
    const { stdout } = await run(peerBin, args, { env: childEnv, timeout: 90_000 })
    return { code: 0, out: JSON.parse(stdout.trim().split('\n').at(-1)!) }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    if (typeof e.code !== 'number' || !e.stdout) throw new Error(`go-peer failed: ${e.stderr ?? err}`)
    return { code: e.code, out: JSON.parse(e.stdout.trim().split('\n').at(-1)!) }
  }
}

beforeAll(async () => {
  peerBin = join(tempDataDir('edgecoder-go-peer-'), 'go-peer')
  const started = Date.now()
  // The module download and build caches are Go's defaults, so a second run only links.
  await run(goBinary(), ['build', '-mod=readonly', '-o', peerBin, '.'], {
    cwd: GO_PEER_DIR,
    timeout: BUILD_TIMEOUT_MS,
    env: { ...process.env, GOFLAGS: '-mod=readonly' },
  })
  console.log(`go-peer built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  ;[privateAgent, openAgent] = await Promise.all([
    startMeshAgent(['--mesh-token', TOKEN]),
    startMeshAgent([]),
  ])
}, BUILD_TIMEOUT_MS + 60_000)

afterAll(cleanupAgents)

describe('a go-libp2p peer', () => {
  it('agrees with the protocol test vectors (canonical JSON, peer ids, signing bytes, signatures, an embed result)', async () => {
    const { code, out } = await goPeer(['vectors', join(REPO_ROOT, 'docs/protocol-vectors.json')])
    expect(out).toMatchObject({ ok: true, failures: null, signatures: 3, keys: 2, canonicalJson: 4 })
    expect(code).toBe(0)
  })

  it('joins a private mesh with the token, receives an advert over gossipsub and verifies it', async () => {
    const { code, out } = await goPeer(['join', '-addr', tcpAddr(privateAgent), '-timeout', '60s'], {
      EDGECODER_MESH_TOKEN: TOKEN,
    })
    expect(out).toMatchObject({ ok: true, private: true, connected: true, remote: privateAgent.ready.peerId })
    expect(out.advert).toMatchObject({
      peerId: privateAgent.ready.peerId,
      author: privateAgent.ready.peerId,
      verified: true,
    })
    expect(out.advert!.seq).toBeGreaterThan(0)
    expect(code).toBe(0)
  })

  it('is refused by the private mesh without the token, and with another token', async () => {
    const before = Object.keys((await statsOf(privateAgent)).scores)
    for (const env of [{}, { EDGECODER_MESH_TOKEN: 'another-mesh-0123456789abcdef' }] as Record<
      string,
      string
    >[]) {
      const { code, out } = await goPeer(['join', '-addr', tcpAddr(privateAgent), '-timeout', '20s'], env)
      expect(out).toMatchObject({ ok: false, connected: false, stage: 'connect' })
      expect(out.advert).toBeUndefined()
      expect(code).toBe(1)
    }
    // The refused dials left no gossip peer behind on the agent.
    expect(Object.keys((await statsOf(privateAgent)).scores)).toEqual(before)
  })

  it('joins an open mesh without a token (the refusal above is the token, not the peer)', async () => {
    const { code, out } = await goPeer(['join', '-addr', tcpAddr(openAgent), '-timeout', '60s'])
    expect(out).toMatchObject({ ok: true, private: false, connected: true })
    expect(out.advert).toMatchObject({ peerId: openAgent.ready.peerId, verified: true })
    expect(code).toBe(0)
  })
})
