import type { MeshPeer, MeshPeerDetail, MeshStats } from '@edgecoder/protocol'
import { type Agent, type AgentProcess, type StartOptions, startAgent, waitFor } from './harness.ts'

/** Heartbeat the mesh tests run with: short, so churn shows within seconds. */
export const HEARTBEAT_MS = 1000
export const EVICT_AFTER_HEARTBEATS = 3

/**
 * Flags every mesh test agent gets: loopback only, short heartbeat, and coordinator mode, which
 * leaves the sandbox and model cold: the mesh behaves the same, and five agents warming Pyodide
 * at once on two cores would only slow the heartbeats these tests time.
 */
export const MESH_ARGS = [
  '--mode',
  'coordinator',
  '--p2p-host',
  '127.0.0.1',
  '--advert-interval-ms',
  String(HEARTBEAT_MS),
  '--evict-after-heartbeats',
  String(EVICT_AFTER_HEARTBEATS),
]

/** Starts an agent on loopback with the mesh test flags plus `extra`. */
export function startMeshAgent(
  extra: string[] = [],
  opts: Omit<StartOptions, 'args'> = {},
): Promise<AgentProcess> {
  return startAgent({ ...opts, args: [...MESH_ARGS, ...extra] })
}

/** The agent's direct TCP multiaddr (ending in /p2p/<id>), as another agent would bootstrap from it. */
export function tcpAddr(a: Agent): string {
  const addr = a.ready.p2pAddrs.find(
    (x) => x.includes('/tcp/') && !x.includes('/ws') && !x.includes('p2p-circuit'),
  )
  if (addr === undefined) throw new Error(`no TCP address in ${a.ready.p2pAddrs.join(' ')}`)
  return addr
}

export async function peersOf(a: Agent): Promise<MeshPeer[]> {
  const res = await a.api('/mesh/peers')
  if (!res.ok) throw new Error(`GET /mesh/peers: ${res.status}`)
  return ((await res.json()) as { peers: MeshPeer[] }).peers
}

export async function peerDetail(a: Agent, peerId: string): Promise<MeshPeerDetail | undefined> {
  const res = await a.api(`/agent-mesh/peers/${peerId}`)
  return res.ok ? ((await res.json()) as MeshPeerDetail) : undefined
}

export async function statsOf(a: Agent): Promise<MeshStats> {
  return (await (await a.api('/mesh/stats')).json()) as MeshStats
}

/** True when `a` lists exactly `others` (by peer id), every one online. */
export async function seesOnline(a: Agent, others: Agent[]): Promise<boolean> {
  const peers = await peersOf(a)
  const want = others.map((o) => o.ready.peerId).sort()
  const online = peers.filter((p) => p.state === 'online').map((p) => p.peerId)
  return peers.length === want.length && want.every((id) => online.includes(id))
}

/** True when every agent lists every other one, online, and no one else. */
export async function fullyMeshed(agents: Agent[]): Promise<boolean> {
  const views = await Promise.all(
    agents.map((a) =>
      seesOnline(
        a,
        agents.filter((o) => o !== a),
      ),
    ),
  )
  return views.every(Boolean)
}

/** Why `fullyMeshed` is false: each agent's table, for failure messages. */
export async function describeTables(agents: Agent[]): Promise<string> {
  const lines = await Promise.all(
    agents.map(async (a) => {
      try {
        const peers = await peersOf(a)
        return `${a.ready.peerId.slice(-6)}: ${peers.map((p) => `${p.peerId.slice(-6)}=${p.state}`).join(' ')}`
      } catch (err) {
        return `${a.ready.peerId.slice(-6)}: ${(err as Error).message}`
      }
    }),
  )
  return lines.join('\n')
}

/**
 * Reads an agent's `/events` SSE stream into a list until `close()`. `ready` resolves with the
 * stream's first event (its `hello`): from then on nothing the agent publishes is missed.
 */
export function collectEvents(a: Agent): {
  events: { type: string; data: unknown }[]
  ready: Promise<void>
  close: () => void
} {
  const events: { type: string; data: unknown }[] = []
  const ctrl = new AbortController()
  // Not Promise.withResolvers: the desktop tests, on an ES2022 lib, type-check this file too.
  let resolveFirst!: () => void
  let rejectFirst!: (err: unknown) => void
  const firstEvent = new Promise<void>((resolve, reject) => {
    resolveFirst = resolve
    rejectFirst = reject
  })
  const first = {
    promise: firstEvent,
    resolve: () => resolveFirst(),
    reject: (err: unknown) => rejectFirst(err),
  }
  void (async () => {
    try {
      const res = await a.api('/events', { signal: ctrl.signal })
      const decoder = new TextDecoder()
      let buf = ''
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true })
        for (let end = buf.indexOf('\n\n'); end !== -1; end = buf.indexOf('\n\n')) {
          const block = buf.slice(0, end)
          buf = buf.slice(end + 2)
          const type = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (type !== undefined && data !== undefined) {
            events.push({ type, data: JSON.parse(data) })
            first.resolve()
          }
        }
      }
      first.reject(new Error(`the event stream of ${a.ready.peerId} ended before its first event`))
    } catch (err) {
      // closed by the test or by the agent's exit
      first.reject(err)
    }
  })()
  first.promise.catch(() => {})
  return { events, ready: first.promise, close: () => ctrl.abort() }
}

/** The `seq` of the latest advert `observer` holds from `from`, or -1. */
async function advertSeq(observer: Agent, from: Agent): Promise<number> {
  return (await peerDetail(observer, from.ready.peerId))?.advert.body.seq ?? -1
}

/**
 * Resolves once every observer has taken `n` more adverts from every other agent of the list:
 * `n` heartbeats of gossip delivered everywhere. A check that something does *not* arrive (a
 * leak across meshes, a node dropping out) is then a bounded window closed by gossip that did
 * arrive, not by a guess of how long gossip takes. An advert's `seq` is its time in ms, so each
 * change of the latest one held counts as one advert (two between polls count as one: the
 * window only grows).
 */
export async function heartbeatsPass(agents: Agent[], n: number, timeoutMs = 30_000): Promise<void> {
  const pairs = agents.flatMap((o) => agents.filter((f) => f !== o).map((f) => [o, f] as const))
  await Promise.all(
    pairs.map(async ([o, f]) => {
      let last = await advertSeq(o, f)
      let taken = 0
      await waitFor(
        async () => {
          const seq = await advertSeq(o, f)
          if (seq !== last) taken++
          last = seq
          return taken >= n
        },
        timeoutMs,
        100,
      ).catch(() => {
        throw new Error(
          `${o.ready.peerId.slice(-6)} took ${taken} of ${n} more adverts from ${f.ready.peerId.slice(-6)} in ${timeoutMs} ms`,
        )
      })
    }),
  )
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * What each agent's mesh looks like, for the message of a mesh wait that timed out: connections,
 * gossip peers, the table, and the last lines of the agent's log.
 */
export async function meshDiagnosis(agents: AgentProcess[]): Promise<string> {
  const parts = await Promise.all(
    agents.map(async (a) => {
      const stats = await statsOf(a).catch((e: Error) => e.message)
      const peers = await peersOf(a).catch((e: Error) => e.message)
      const table = Array.isArray(peers) ? peers.map((p) => `${p.peerId.slice(-8)} ${p.state}`) : peers
      const s =
        typeof stats === 'string'
          ? stats
          : `connections ${stats.connections}, topic peers ${stats.topicPeers}, mesh peers ${stats.meshPeers}, gossip ${JSON.stringify(stats.gossip)}`
      const log = a.stderr().trim().split('\n').slice(-15).join('\n')
      return `${a.ready.peerId.slice(-8)}: ${s}; table [${table}]\n${log}`
    }),
  )
  return parts.join('\n---\n')
}

/** `waitFor`, whose timeout names what `agents` saw of the mesh. */
export async function waitForMesh<T>(
  agents: AgentProcess[],
  check: () => Promise<T> | T,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  return waitFor(check, timeoutMs, intervalMs).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${await meshDiagnosis(agents)}`)
  })
}
