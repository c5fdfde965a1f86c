import { spawn } from 'node:child_process'
import { statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanupAgents, runCli, startAgent, tempDataDir } from './harness.ts'

afterEach(cleanupAgents)

const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string } }).error

describe('edgecoder start', () => {
  it('prints a ready line with peer id, API URL and pid, and keeps its key private', async () => {
    const a = await startAgent()
    expect(a.ready.peerId).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]+$/)
    expect(a.ready.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(a.ready.pid).toBe(a.proc.pid)
    expect(statSync(join(a.dataDir, 'identity.key')).mode & 0o777).toBe(0o600)
    expect(statSync(join(a.dataDir, 'api-token')).mode & 0o777).toBe(0o600)
  })

  it('answers every core route with its documented shape', async () => {
    const a = await startAgent()
    expect(await (await a.api('/healthz')).json()).toEqual({ status: 'ok' })
    const ready = await a.api('/readyz')
    expect(ready.status).toBe(200)
    expect(((await ready.json()) as { status: string }).status).toBe('ready')

    const rt = (await (await a.api('/health/runtime')).json()) as Record<string, unknown>
    for (const k of [
      'peerId',
      'mode',
      'version',
      'uptimeSec',
      'addresses',
      'provider',
      'model',
      'peers',
      'queue',
    ]) {
      expect(rt).toHaveProperty(k)
    }
    expect(rt.peerId).toBe(a.ready.peerId)
    expect(rt.mode).toBe('all-in-one')

    const st = (await (await a.api('/status')).json()) as {
      tasks: object
      earnings: { credits: number; earned: number; spent: number }
    }
    expect(st.tasks).toMatchObject({
      completed: expect.any(Number),
      failed: expect.any(Number),
      running: expect.any(Number),
    })
    expect(st.earnings).toEqual({ credits: 0, earned: 0, spent: 0 })

    const metrics = await (await a.api('/metrics')).text()
    expect(metrics).toMatch(/^edgecoder_http_requests_total\{/m)
    expect(metrics).toMatch(/^edgecoder_process_resident_memory_bytes \d+/m)

    const openapi = (await (await a.api('/openapi.json')).json()) as {
      openapi: string
      paths: Record<string, unknown>
    }
    expect(openapi.openapi).toBe('3.1.0')
    for (const p of ['/healthz', '/health/runtime', '/status', '/orchestration/settings', '/events']) {
      expect(Object.keys(openapi.paths)).toContain(p)
    }
  })

  it('streams events over SSE: a hello snapshot, then settings changes as they happen', async () => {
    const a = await startAgent()
    const ctrl = new AbortController()
    const res = await a.api('/events', { signal: ctrl.signal })
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const reader = res.body!.getReader()
    let buf = ''
    const next = async (type: string) => {
      while (!buf.includes(`event: ${type}\n`)) {
        const { value, done } = await reader.read()
        if (done) throw new Error('stream ended')
        buf += new TextDecoder().decode(value)
      }
      const at = buf.indexOf(`event: ${type}\n`)
      const data = /data: (.*)\n/.exec(buf.slice(at))![1]!
      buf = buf.slice(at + 1)
      return JSON.parse(data)
    }
    const hello = await next('hello')
    expect(hello.settings.maxConcurrentTasks).toBe(2)
    await a.api('/orchestration/settings', { method: 'PUT', json: { region: 'eu-west' } })
    const change = await next('settings')
    expect(change.region).toBe('eu-west')
    ctrl.abort()
  })

  it('changes settings at run time and keeps them, and the peer id, across a restart', async () => {
    const dataDir = tempDataDir()
    const a = await startAgent({ dataDir })
    const put = await a.api('/orchestration/settings', {
      method: 'PUT',
      json: {
        maxConcurrentTasks: 5,
        powerPolicy: { mode: 'schedule', hours: { start: 22, end: 6 } },
        coordinatorRole: false,
        meshToken: 'a-private-mesh-token-123',
        region: 'us-east',
      },
    })
    expect(put.status).toBe(200)
    const one = await a.api('/orchestration/settings/contributing', { method: 'PUT', json: { value: false } })
    expect(await one.json()).toEqual({ key: 'contributing', value: false })
    expect(await a.stop()).toBe(0)

    const b = await startAgent({ dataDir })
    expect(b.ready.peerId).toBe(a.ready.peerId)
    expect(await (await b.api('/orchestration/settings')).json()).toEqual({
      maxConcurrentTasks: 5,
      powerPolicy: { mode: 'schedule', hours: { start: 22, end: 6 } },
      coordinatorRole: false,
      meshToken: 'a-private-mesh-token-123',
      region: 'us-east',
      contributing: false,
      bootstrapPeers: [],
      provider: 'auto',
    })
  })

  it('lets an explicit flag override a remembered setting', async () => {
    const dataDir = tempDataDir()
    const a = await startAgent({ dataDir })
    await a.api('/orchestration/settings', { method: 'PUT', json: { maxConcurrentTasks: 7 } })
    await a.stop()
    const b = await startAgent({ dataDir, args: ['--max-concurrent-tasks', '3'] })
    const s = (await (await b.api('/orchestration/settings')).json()) as { maxConcurrentTasks: number }
    expect(s.maxConcurrentTasks).toBe(3)
  })
})

describe('bad input', () => {
  it('refuses every kind of bad settings body with a 4xx and changes nothing', async () => {
    const a = await startAgent()
    const before = await (await a.api('/orchestration/settings')).json()
    const put = (body: string, type = 'application/json') =>
      a.api('/orchestration/settings', { method: 'PUT', body, headers: { 'content-type': type } })

    const malformed = await put('{"maxConcurrentTasks": ')
    expect(malformed.status).toBe(400)
    expect((await errorOf(malformed)).code).toBe('invalid_request')

    const wrongType = await put(JSON.stringify({ maxConcurrentTasks: 'many' }))
    expect(wrongType.status).toBe(400)
    expect((await errorOf(wrongType)).message).toMatch(/maxConcurrentTasks/)

    const outOfRange = await put(JSON.stringify({ maxConcurrentTasks: 0 }))
    expect(outOfRange.status).toBe(400)

    const unknownKey = await put(JSON.stringify({ maxConcurrentTasks: 3, rootShell: true }))
    expect(unknownKey.status).toBe(400)

    const badPolicy = await put(
      JSON.stringify({ powerPolicy: { mode: 'schedule', hours: { start: 25, end: 3 } } }),
    )
    expect(badPolicy.status).toBe(400)
    expect((await errorOf(badPolicy)).message).toMatch(/powerPolicy/)

    const shortToken = await put(JSON.stringify({ meshToken: 'short' }))
    expect(shortToken.status).toBe(400)

    const empty = await put('{}')
    expect(empty.status).toBe(400)

    const array = await put('[1,2,3]')
    expect(array.status).toBe(400)

    const huge = await put(JSON.stringify({ region: 'x'.repeat(2 * 1024 * 1024) }))
    expect(huge.status).toBe(413)
    expect((await errorOf(huge)).code).toBe('payload_too_large')

    const form = await put('maxConcurrentTasks=9', 'application/x-www-form-urlencoded')
    expect(form.status).toBe(415)

    const textPlain = await put('{"maxConcurrentTasks":9}', 'text/plain')
    expect(textPlain.status).toBe(415)

    const badKey = await a.api('/orchestration/settings/nope', { method: 'PUT', json: { value: 1 } })
    expect(badKey.status).toBe(400)
    const badValue = await a.api('/orchestration/settings/region', {
      method: 'PUT',
      json: { value: 'Not A Region!' },
    })
    expect(badValue.status).toBe(400)
    expect((await errorOf(badValue)).message).toMatch(/region/i)

    expect(await (await a.api('/orchestration/settings')).json()).toEqual(before)
    expect((await a.api('/healthz')).status).toBe(200)
  })

  it('answers 404 for unknown routes and 405 with Allow for a wrong method', async () => {
    const a = await startAgent()
    const missing = await a.api('/no/such/route')
    expect(missing.status).toBe(404)
    expect((await errorOf(missing)).code).toBe('not_found')
    const wrong = await a.api('/healthz', { method: 'DELETE' })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toMatch(/GET/)
    expect((await errorOf(wrong)).code).toBe('method_not_allowed')
  })

  it('refuses cross-origin browser requests except from the desktop app', async () => {
    const a = await startAgent()
    const evil = await a.api('/orchestration/settings', {
      method: 'PUT',
      json: { region: 'evil' },
      headers: { origin: 'https://evil.example' },
    })
    expect(evil.status).toBe(403)
    expect((await errorOf(evil)).code).toBe('forbidden_origin')
    const evilRead = await a.api('/status', { headers: { origin: 'https://evil.example' } })
    expect(evilRead.status).toBe(403)
    const app = await a.api('/status', { headers: { origin: 'tauri://localhost' } })
    expect(app.status).toBe(200)
    expect(app.headers.get('access-control-allow-origin')).toBe('tauri://localhost')
    const preflight = await a.api('/orchestration/settings', {
      method: 'OPTIONS',
      headers: { origin: 'tauri://localhost', 'access-control-request-method': 'PUT' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PUT')
    const evilPreflight = await a.api('/orchestration/settings', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
    })
    expect(evilPreflight.headers.get('access-control-allow-origin')).toBeNull()
    expect(evilRead.headers.get('access-control-allow-origin')).toBeNull()
    const s = (await (await a.api('/orchestration/settings')).json()) as { region: string | null }
    expect(s.region).toBeNull()
    // A page on the UI's dev-server port is any page: not trusted without --dev-origins.
    const dev = await a.api('/status', { headers: { origin: 'http://localhost:1420' } })
    expect(dev.status).toBe(403)
  })

  it('trusts the dev server only with --dev-origins, and origins the operator lists', async () => {
    const a = await startAgent({ args: ['--dev-origins', '--allowed-origins', 'http://localhost:*'] })
    const dev = await a.api('/status', { headers: { origin: 'http://127.0.0.1:1420' } })
    expect(dev.status).toBe(200)
    expect(dev.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:1420')
    const tool = await a.api('/status', { headers: { origin: 'http://localhost:8080' } })
    expect(tool.headers.get('access-control-allow-origin')).toBe('http://localhost:8080')
    const other = await a.api('/status', { headers: { origin: 'http://127.0.0.1:8080' } })
    expect(other.status).toBe(403)
  })

  it('refuses requests addressed to another host name (DNS rebinding) while on loopback', async () => {
    const a = await startAgent()
    const { request } = await import('node:http')
    const get = (host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${a.apiUrl}/status`, { headers: { host } }, (res) => {
          let body = ''
          res.on('data', (d) => {
            body += d
          })
          res.on('end', () => resolve({ status: res.statusCode!, body }))
        })
        req.on('error', reject)
        req.end()
      })
    const rebound = await get('evil.example:4301')
    expect(rebound.status).toBe(403)
    expect(JSON.parse(rebound.body).error.code).toBe('forbidden_host')
    expect((await get(`localhost:${new URL(a.apiUrl).port}`)).status).toBe(200)
    expect((await get(new URL(a.apiUrl).host)).status).toBe(200)
  })

  it('exits 1 naming the bad setting when the config is invalid', async () => {
    for (const [args, name] of [
      [['--mode', 'superhero'], '--mode'],
      [['--api-port', '70000'], '--api-port'],
      [['--max-concurrent-tasks', 'lots'], '--max-concurrent-tasks'],
      [['--region', 'Mars Base'], '--region'],
      [['--bootstrap', 'not-a-multiaddr'], '--bootstrap'],
      [['--frobnicate'], 'frobnicate'],
    ] as const) {
      const r = await runCli(['start', '--data-dir', tempDataDir(), ...args])
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1)
      expect(r.stderr).toContain(name)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    const env = await runCli(['start', '--data-dir', tempDataDir()], { EDGE_RUNTIME_MODE: 'nope' })
    expect(env.code).toBe(1)
    expect(env.stderr).toContain('EDGE_RUNTIME_MODE')
  })
})

describe('lifecycle', () => {
  it('stops cleanly on SIGTERM within 10 s and exits 0', async () => {
    const a = await startAgent()
    const t0 = Date.now()
    expect(await a.stop('SIGTERM')).toBe(0)
    expect(Date.now() - t0).toBeLessThan(10_000)
    expect(a.stderr()).toMatch(/"msg":"stopped"/)
  })

  it('refuses a second agent on the same data dir with a clear message', async () => {
    const a = await startAgent()
    const r = await runCli(['start', '--data-dir', a.dataDir, '--api-port', '0', '--p2p-port', '0'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/already running on data dir/)
    expect(r.stderr).toContain(String(a.proc.pid))
    expect((await a.api('/healthz')).status).toBe(200)
  })

  it('takes over a data dir left by an agent killed with -9', async () => {
    const a = await startAgent()
    await a.stop('SIGKILL')
    const b = await startAgent({ dataDir: a.dataDir })
    expect(b.ready.peerId).toBe(a.ready.peerId)
  })

  it('gives a clear message when the API port is taken', async () => {
    const blocker = createServer().listen(0, '127.0.0.1')
    await new Promise((r) => blocker.once('listening', r))
    const port = (blocker.address() as { port: number }).port
    try {
      const r = await runCli([
        'start',
        '--data-dir',
        tempDataDir(),
        '--api-port',
        String(port),
        '--p2p-port',
        '0',
      ])
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`API port ${port}`)
      expect(r.stderr).toContain('already in use')
      expect(r.stderr).not.toMatch(/\n\s+at /)
    } finally {
      blocker.close()
    }
  })

  it('exits when the process given as --parent-pid dies', async () => {
    const parent = spawn('sleep', ['60'])
    const a = await startAgent({ args: ['--parent-pid', String(parent.pid)] })
    parent.kill('SIGKILL')
    const code = await Promise.race([
      a.exited,
      new Promise((r) => setTimeout(() => r('still running'), 8_000)),
    ])
    expect(code).toBe(0)
  })
})

describe('API beyond loopback', () => {
  it('requires the bearer token from the data dir', async () => {
    const a = await startAgent({ args: ['--api-host', '0.0.0.0'] })
    const url = a.apiUrl
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    const anon = await fetch(`${url}/status`)
    expect(anon.status).toBe(401)
    const wrong = await fetch(`${url}/status`, { headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(401)
    const { readFileSync } = await import('node:fs')
    const token = readFileSync(join(a.dataDir, 'api-token'), 'utf8').trim()
    const ok = await fetch(`${url}/status`, { headers: { authorization: `Bearer ${token}` } })
    expect(ok.status).toBe(200)
    expect(a.stderr()).toMatch(/bound beyond loopback/)
  })

  it('needs no token on loopback', async () => {
    const a = await startAgent()
    expect((await a.api('/status')).status).toBe(200)
  })
})

describe('CLI client', () => {
  it('shows status and reads and writes settings, as a table and as JSON', async () => {
    const a = await startAgent()
    const env = { EDGECODER_API_URL: a.apiUrl, EDGECODER_DATA_DIR: a.dataDir }
    const status = await runCli(['status'], env)
    expect(status.code).toBe(0)
    expect(status.stdout).toContain(a.ready.peerId)
    expect(status.stdout).toMatch(/mode\s+all-in-one/)

    const json = await runCli(['status', '--json'], env)
    expect(JSON.parse(json.stdout).runtime.peerId).toBe(a.ready.peerId)

    const set = await runCli(['config', 'set', 'powerPolicy', 'schedule:9-17'], env)
    expect(set.code).toBe(0)
    expect(set.stdout).toContain('schedule 9:00-17:00')
    const get = await runCli(['config', 'get', 'powerPolicy', '--json'], env)
    expect(JSON.parse(get.stdout)).toEqual({
      powerPolicy: { mode: 'schedule', hours: { start: 9, end: 17 } },
    })

    const bad = await runCli(['config', 'set', 'maxConcurrentTasks', '0'], env)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/400 invalid_request: body\.maxConcurrentTasks/)
    const unknown = await runCli(['config', 'set', 'colour', 'blue'], env)
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('unknown setting "colour"')
  })

  it('says plainly when no agent answers', async () => {
    const probe = createServer().listen(0, '127.0.0.1')
    await new Promise((r) => probe.once('listening', r))
    const port = (probe.address() as { port: number }).port
    await new Promise((r) => probe.close(r))
    const r = await runCli(['status'], { EDGECODER_API_URL: `http://127.0.0.1:${port}` })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`no agent answers at http://127.0.0.1:${port}`)
  })
})

describe('the UI for headless nodes', () => {
  it('serves the built UI at /ui with a strict CSP and never a file outside it', async () => {
    const { existsSync } = await import('node:fs')
    const a = await startAgent()
    const built = existsSync(join(import.meta.dirname, '../../desktop/dist/index.html'))
    const redirect = await a.api('/ui', { redirect: 'manual' })
    expect(redirect.status).toBe(302)
    const index = await a.api('/ui/')
    if (built) {
      expect(index.status).toBe(200)
      expect(index.headers.get('content-type')).toMatch(/text\/html/)
      expect(index.headers.get('content-security-policy')).toMatch(/connect-src 'self'/)
    } else {
      expect(index.status).toBe(404)
      expect((await errorOf(index)).code).toBe('ui_not_built')
    }
    for (const evil of [
      '/ui/../../package.json',
      '/ui/..%2f..%2fpackage.json',
      '/ui/%2e%2e/%2e%2e/README.md',
      '/ui//etc/passwd',
    ]) {
      const r = await a.api(evil)
      expect(r.status, evil).toBe(404)
      expect(await r.text()).not.toMatch(/edgecoder-agent|root:x:0/)
    }
  })
})
