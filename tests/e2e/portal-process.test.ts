import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../packages/portal/src/index.ts'
import { databaseUrl, stopCluster } from '../../packages/portal/test/helpers/portal.ts'
import { runCli } from './harness.ts'
import { startPortalProcess } from './portal-helpers.ts'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
  await stopCluster()
})

describe('edgecoder portal start', () => {
  it.each(['pglite', 'postgres'] as const)(
    'prints a ready line, serves, keeps its data across restarts and stops on SIGTERM within 10 s (%s)',
    async (backend) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'edgecoder-portal-proc-'))
      dirs.push(dataDir)
      const url = await databaseUrl(backend)
      const env: Record<string, string> = { EDGECODER_PORTAL_DATA_DIR: dataDir, EDGECODER_PORTAL_PORT: '0' }
      if (url) env.DATABASE_URL = url
      const first = startPortalProcess([], env)
      const ready = await first.ready
      expect(ready).toMatchObject({ database: backend, pid: first.proc.pid })
      expect((await fetch(`${ready.url}/healthz`)).status).toBe(200)
      const spec = (await (await fetch(`${ready.url}/openapi.json`)).json()) as {
        paths: Record<string, unknown>
      }
      expect(Object.keys(spec.paths)).toEqual(
        expect.arrayContaining(['/auth/signup', '/enroll/complete', '/network/coordinators']),
      )
      const signup = await fetch(`${ready.url}/auth/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'kept@example.org' }),
      })
      expect(signup.status).toBe(202)
      // One portal per data dir: a second is refused while the first runs.
      const twin = await runCli(['portal', 'start'], env)
      expect(twin.code).toBe(1)
      expect(twin.stderr).toContain('already running')
      const t0 = Date.now()
      first.proc.kill('SIGTERM')
      expect(await first.exited).toBe(0)
      expect(Date.now() - t0).toBeLessThan(10_000)

      // Same key, same database.
      const second = startPortalProcess([], env)
      const again = await second.ready
      expect(again.peerId).toBe(ready.peerId)
      second.proc.kill('SIGTERM')
      expect(await second.exited).toBe(0)
      const db = await openDatabase({ dataDir, databaseUrl: url })
      try {
        const rows = await db.query<{ to_address: string }>('SELECT to_address FROM outbox')
        // No SMTP server configured: the verification mail waits in the outbox, kept across restarts.
        expect(rows.map((r) => r.to_address)).toEqual(['kept@example.org'])
      } finally {
        await db.close()
      }
    },
  )

  it('exits 1 naming the setting when the config is bad', async () => {
    const out = await runCli(['portal', 'start', '--database-url', 'mysql://nope'])
    expect(out.code).toBe(1)
    expect(out.stderr).toContain('--database-url')
    const port = await runCli(['portal', 'start', '--port', 'http'])
    expect(port.code).toBe(1)
    expect(port.stderr).toContain('--port')
  })
})
