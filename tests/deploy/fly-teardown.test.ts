import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../e2e/harness.ts'

const SCRIPT = join(REPO_ROOT, 'scripts/fly-teardown.sh')
const RETIRED = [
  'edgecoder-coordinator-2',
  'edgecoder-inference',
  'edgecoder-control-plane',
  'edgecoder-docs',
]

let dir = ''
let calls = ''

/**
 * A fake flyctl, first on PATH: Fly can't be reached from a test, so this stand-in records each
 * call (one line of arguments) and succeeds. It proves what the script runs, or that it runs nothing.
 */
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgecoder-teardown-'))
  calls = join(dir, 'calls.log')
  const fake = join(dir, 'flyctl')
  writeFileSync(fake, `#!/bin/sh\n# fake flyctl for tests: records its arguments\necho "$*" >> "${calls}"\n`)
  chmodSync(fake, 0o755)
})

afterEach(() => rmSync(dir, { recursive: true, force: true }))

function teardown(args: string[], input = '') {
  const r = spawnSync(SCRIPT, args, {
    input,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const recorded = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : [])

describe('scripts/fly-teardown.sh', () => {
  it('by default prints every flyctl command, for exactly the four retired apps, and runs none', () => {
    const r = teardown([])
    expect(r.code).toBe(0)
    const commands = r.stdout.split('\n').filter((l) => l.startsWith('flyctl '))
    const destroyed = commands.flatMap((c) => c.match(/^flyctl apps destroy (\S+) --yes$/)?.[1] ?? [])
    expect(destroyed).toEqual(RETIRED)
    expect(commands).toContain('flyctl postgres detach edgecoder-postgres --app edgecoder-control-plane')
    expect(commands).toHaveLength(RETIRED.length + 1)
    for (const kept of ['edgecoder-seed', 'edgecoder-portal', 'edgecoder-portal-postgres'])
      expect(commands.join('\n')).not.toMatch(new RegExp(`${kept}( |$)`, 'm'))
    expect(recorded()).toEqual([])
  })

  it('with --execute but without the typed confirmation changes nothing', () => {
    for (const answer of ['', 'yes\n', 'y\n', 'tear down 3 apps\n']) {
      const r = teardown(['--execute'], answer)
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/not confirmed; nothing changed/)
    }
    expect(recorded()).toEqual([])
  })

  it('refuses unknown arguments before anything else', () => {
    const r = teardown(['--force'])
    expect(r.code).toBe(2)
    expect(recorded()).toEqual([])
  })

  it('with --execute and the confirmation checks the kept apps, then detaches before destroying', () => {
    const dry = teardown([])
      .stdout.split('\n')
      .filter((l) => l.startsWith('flyctl '))
    const r = teardown(['--execute'], 'tear down 4 apps\n')
    expect(r.code).toBe(0)
    expect(recorded()).toEqual([
      'status --app edgecoder-seed',
      'status --app edgecoder-portal',
      ...dry.map((c) => c.replace(/^flyctl /, '')),
    ])
  })
})
