/**
 * The tier-2 checks against real agents: `node scripts/e2e/wan-check.ts URL[#token] ...`.
 * Each URL is an agent's API (e.g. the seed on Fly and machines on other networks, with their
 * `--api-host 0.0.0.0` token after `#`). Checks, in order, and prints one line per check:
 *   1. every agent answers and lists every other one online (same mesh);
 *   2. a chat task sent to the first agent without a model runs on an agent that has one;
 *   3. adverts are fresh: every peer's last advert is younger than its lifetime (60 s);
 *   4. where the ledger is present, every agent's chains validate (GET /credits/verify).
 * Exits 1 on the first failure, naming it.
 */
interface Agent {
  url: string
  token: string | null
  peerId: string
  hasModel: boolean
}

const ADVERT_LIFETIME_MS = 60_000

async function api(a: Pick<Agent, 'url' | 'token'>, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  if (a.token !== null) headers.set('authorization', `Bearer ${a.token}`)
  if (init.body !== undefined) headers.set('content-type', 'application/json')
  return fetch(new URL(path, a.url), { ...init, headers, signal: AbortSignal.timeout(30_000) })
}

async function json<T>(a: Pick<Agent, 'url' | 'token'>, path: string): Promise<T> {
  const res = await api(a, path)
  if (!res.ok) throw new Error(`${a.url}${path}: HTTP ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

function fail(what: string): never {
  console.error(`FAIL ${what}`)
  process.exit(1)
}

async function main(): Promise<void> {
  const targets = process.argv.slice(2)
  if (targets.length < 2) fail('give at least two agent API URLs (URL or URL#token)')
  const agents: Agent[] = []
  for (const t of targets) {
    const [url, token] = t.split('#') as [string, string | undefined]
    const a = { url, token: token ?? null }
    const rt = await json<{ peerId: string }>(a, '/health/runtime')
    const local = await json<{ models: unknown[] }>(a, '/model/list').catch(() => ({ models: [] }))
    agents.push({ ...a, peerId: rt.peerId, hasModel: local.models.length > 0 })
  }
  console.log(`ok   ${agents.length} agents answer: ${agents.map((a) => a.peerId.slice(-8)).join(' ')}`)

  // A mesh that just formed may still be exchanging adverts: a short grace before judging.
  const meshDeadline = Date.now() + 30_000
  for (const a of agents) {
    for (;;) {
      const { peers } = await json<{ peers: { peerId: string; state: string; lastSeen: string | null }[] }>(
        a,
        '/mesh/peers',
      )
      const online = new Set(peers.filter((p) => p.state === 'online').map((p) => p.peerId))
      const missing = agents.filter((o) => o !== a && !online.has(o.peerId))
      const stale = peers.filter(
        (p) =>
          p.state === 'online' &&
          p.lastSeen !== null &&
          Date.now() - Date.parse(p.lastSeen) > ADVERT_LIFETIME_MS,
      )
      if (missing.length === 0 && stale.length === 0) break
      if (Date.now() < meshDeadline) {
        await new Promise((r) => setTimeout(r, 500))
        continue
      }
      if (missing.length > 0) fail(`${a.url} does not see ${missing.map((m) => m.url).join(', ')} online`)
      fail(`${a.url} holds adverts older than their lifetime: ${stale.map((p) => p.peerId)}`)
    }
  }
  console.log('ok   every agent sees every other online, with fresh adverts')

  const submitter = agents.find((a) => !a.hasModel)
  if (submitter === undefined || !agents.some((a) => a.hasModel)) {
    console.log('skip the cross-region model task needs one agent without a model and one with')
  } else {
    const res = await api(submitter, '/tasks', {
      method: 'POST',
      body: JSON.stringify({
        kind: 'chat',
        messages: [{ role: 'user', content: 'Say hello.' }],
        maxTokens: 8,
      }),
    })
    if (res.status !== 202) fail(`POST /tasks on ${submitter.url}: HTTP ${res.status} ${await res.text()}`)
    const { id } = (await res.json()) as { id: string }
    const deadline = Date.now() + 180_000
    for (;;) {
      const t = await json<{ status: string; executor: { peerId: string; local: boolean } | null }>(
        submitter,
        `/tasks/${id}`,
      )
      if (t.status === 'succeeded') {
        if (t.executor?.local !== false) fail('the model task ran on the submitter itself')
        console.log(`ok   a model task from ${submitter.url} ran on …${t.executor.peerId.slice(-8)}`)
        break
      }
      if (t.status === 'failed' || t.status === 'cancelled') fail(`the model task ended ${t.status}`)
      if (Date.now() > deadline) fail('the model task did not finish within 180 s')
      await new Promise((r) => setTimeout(r, 500))
    }
  }

  for (const a of agents) {
    const res = await api(a, '/credits/verify')
    if (res.status === 404) {
      console.log(`skip ${a.url} has no ledger`)
      continue
    }
    const body = (await res.json()) as { ok?: boolean; problems?: unknown[] }
    if (!res.ok || body.ok === false) fail(`${a.url} chains do not validate: ${JSON.stringify(body)}`)
  }
  console.log('ok   chains validate on every agent that keeps them')
}

await main()
