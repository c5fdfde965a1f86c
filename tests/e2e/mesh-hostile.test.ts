import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, REPO_ROOT, waitFor } from './harness.ts'
import {
  describeTables,
  fullyMeshed,
  heartbeatsPass,
  peerDetail,
  peersOf,
  startMeshAgent,
  statsOf,
  tcpAddr,
} from './mesh-helpers.ts'

const FIXTURE = join(REPO_ROOT, 'tests/e2e/fixtures/hostile-peer.ts')
let hostile: ChildProcess | undefined

afterAll(async () => {
  if (hostile && hostile.exitCode === null) {
    hostile.kill('SIGKILL')
    await new Promise((r) => hostile!.once('exit', r))
  }
  await cleanupAgents()
})

/** Runs the hostile peer against `target`; resolves with the peer id it used for each attack. */
async function runHostile(target: string, honestAdvert: unknown): Promise<Record<string, string>> {
  const arg = Buffer.from(JSON.stringify(honestAdvert)).toString('base64url')
  hostile = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', FIXTURE, target, arg], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  hostile.stderr!.on('data', (d) => {
    stderr += d
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hostile peer did not finish\n${stderr}`)), 60_000)
    createInterface({ input: hostile!.stdout! }).on('line', (line) => {
      if (!line.startsWith('HOSTILE_DONE ')) return
      clearTimeout(timer)
      resolve(JSON.parse(line.slice('HOSTILE_DONE '.length)))
    })
    hostile!.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`hostile peer exited ${code}\n${stderr}`))
    })
  })
}

describe('a hostile peer', () => {
  it('gets none of its forged, replayed, stale, oversize or malformed adverts into a peer table', async () => {
    const seed = await startMeshAgent([])
    const honest = await Promise.all([1, 2].map(() => startMeshAgent(['--bootstrap', tcpAddr(seed)])))
    const mesh: AgentProcess[] = [seed, ...honest]
    await waitFor(() => fullyMeshed(mesh), 10_000, 100).catch(async () => {
      throw new Error(`honest mesh did not form:\n${await describeTables(mesh)}`)
    })
    const [target, victim] = honest as [AgentProcess, AgentProcess]
    const victimAdvert = (await peerDetail(seed, victim.ready.peerId))!.advert

    const ids = await runHostile(tcpAddr(target), victimAdvert)
    const { replayer, ...refused } = ids
    const atLeast: Record<string, number> = {
      'sender-mismatch': 2,
      'bad-signature': 1,
      stale: 1,
      future: 1,
      oversize: 1,
      malformed: 2,
      replayed: 1,
    }
    // The target has judged every attack...
    const judged = async () => {
      const rejected = (await statsOf(target)).adverts.rejected
      return Object.entries(atLeast).every(([reason, n]) => (rejected[reason] ?? 0) >= n)
    }
    await waitFor(judged, 20_000, 50).catch(async () => {
      throw new Error(`refusals: ${JSON.stringify((await statsOf(target)).adverts.rejected)}`)
    })
    // ...and two heartbeats of honest gossip have reached everyone since: anything that slipped
    // through would have spread as far.
    await heartbeatsPass(mesh, 2)

    for (const a of mesh) {
      const listed = (await peersOf(a)).map((p) => p.peerId)
      for (const [attack, id] of Object.entries(refused))
        expect(listed, `${attack} in a table`).not.toContain(id)
      expect((await peersOf(a)).find((p) => p.peerId === victim.ready.peerId)?.region ?? null).not.toBe(
        'forged',
      )
    }

    const stats = await statsOf(target)
    const scoreList = Object.entries(ids).map(([k, id]) => `${k} ${stats.scores[id]?.toFixed(0)}`)
    console.log(`mesh: refused ${JSON.stringify(stats.adverts.rejected)}; scores ${scoreList.join(', ')}`)
    for (const [reason, n] of Object.entries(atLeast)) {
      expect(stats.adverts.rejected[reason], `${reason} refusals`).toBeGreaterThanOrEqual(n)
    }
    // Every attacker lost gossip score with the node it attacked...
    for (const [attack, id] of Object.entries(ids)) {
      expect(stats.scores[id], `score of ${attack}`).toBeLessThan(0)
    }
    // ...and nothing it sent was forwarded: the other honest nodes never had to refuse anything.
    for (const a of [seed, victim]) {
      const rejected = Object.values((await statsOf(a)).adverts.rejected).reduce((x, y) => x + y, 0)
      expect(rejected).toBe(0)
    }
    // The replayer's first advert was valid and taken; the copy was refused (counted above) and
    // brought it no fresh sign of life: it ages out like any silent peer.
    await waitFor(async () => (await peerDetail(target, replayer!)) === undefined, 10_000, 100)

    // The honest mesh is unaffected: still meshed once the replayer's one advert has aged out,
    // and a change still reaches everyone within 2 s.
    await waitFor(() => fullyMeshed(mesh), 10_000, 100)
    const t0 = Date.now()
    await seed.api('/orchestration/settings', { method: 'PUT', json: { region: 'after-attack' } })
    for (const a of honest) {
      await waitFor(
        async () => (await peersOf(a)).find((p) => p.peerId === seed.ready.peerId)?.region === 'after-attack',
        2_000,
        20,
      )
    }
    console.log(`mesh: after the attack, a change reached both honest peers in ${Date.now() - t0} ms`)
  })
})
