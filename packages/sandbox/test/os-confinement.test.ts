import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildSeccompFilter, detectConfinement, probeConfinement } from '../src/index.ts'

// The OS wall, tried as guest code that got past the interpreters would: plain Node code run
// exactly as the sandbox process is run.
const confinement = detectConfinement(fileURLToPath(new URL('..', import.meta.url)))
const MEMORY = 2 * 1024 ** 3

/** Runs `code` as the sandbox process would run, and returns what it printed as JSON. */
async function confined(code: string): Promise<unknown> {
  const launch = confinement.launch({ args: ['-e', code], memoryLimitBytes: MEMORY })
  const child = spawn(launch.command, launch.args, {
    stdio: ['ignore', 'pipe', 'pipe', ...launch.extraFds],
    env: {},
  })
  launch.done()
  let out = ''
  let err = ''
  child.stdout!.on('data', (c) => (out += c))
  child.stderr!.on('data', (c) => (err += c))
  const code_ = await new Promise((resolve) => child.on('exit', (c, s) => resolve(s ?? c)))
  const line = out.trim().split('\n').at(-1) ?? ''
  try {
    return JSON.parse(line)
  } catch {
    throw new Error(`probe printed no JSON (exit ${code_}): ${out.slice(-500)} ${err.slice(-1500)}`)
  }
}

let dataDir: string
let api: Server
let apiPort = 0
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'edgecoder-agent-data-'))
  writeFileSync(join(dataDir, 'api-token'), 'secret-token', { mode: 0o600 })
  api = createServer((_req, res) => res.end('the agent API'))
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r))
  apiPort = (api.address() as { port: number }).port
})
afterAll(() => {
  api.close()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('OS confinement of the sandbox process (bubblewrap)', () => {
  it('is in place here', () => {
    expect(confinement.confined).toBe(true)
  })

  it('is found the same way by the probe that does not block (the agent’s start-up)', async () => {
    const probed = await probeConfinement(fileURLToPath(new URL('..', import.meta.url)))
    const { launch: _a, ...found } = confinement
    const { launch: _b, ...viaProbe } = probed
    expect(viaProbe).toEqual(found)
    const spec = { args: ['-e', ''], memoryLimitBytes: MEMORY }
    const [a, b] = [confinement.launch(spec), probed.launch(spec)]
    a.done()
    b.done()
    expect(b.command).toBe(a.command)
    // The seccomp filter's fd differs from one launch to the next; everything else is the same.
    expect(b.args.filter((x) => !/^\d+$/.test(x))).toEqual(a.args.filter((x) => !/^\d+$/.test(x)))
  })

  it('cannot read the agent’s data dir, its API token or the host’s files', async () => {
    const result = await confined(`
      const fs = require('node:fs')
      const tryRead = (p) => { try { fs.readFileSync(p); return 'READ' } catch (e) { return e.code } }
      const files = [${JSON.stringify(join(dataDir, 'api-token'))}, '/etc/passwd', ${JSON.stringify(join(process.cwd(), 'package.json'))}]
      console.log(JSON.stringify({ files: files.map(tryRead), tmp: fs.readdirSync('/tmp') }))`)
    // The host's /tmp (where this agent's data dir is) has files; the sandbox's is its own, empty
    // but for the mount point of its runtime when the checkout itself lives under /tmp.
    const under = /^\/tmp\/([^/]+)/.exec(process.cwd())?.[1]
    expect(result).toEqual({ files: ['ENOENT', 'ENOENT', 'ENOENT'], tmp: under ? [under] : [] })
  })

  it('cannot reach the agent’s API over loopback, nor any network', async () => {
    const result = await confined(`
      const net = require('node:net')
      const s = net.connect(${apiPort}, '127.0.0.1')
      s.on('connect', () => { console.log(JSON.stringify('CONNECTED')); process.exit(0) })
      s.on('error', (e) => console.log(JSON.stringify(e.code)))`)
    expect(['EAFNOSUPPORT', 'ECONNREFUSED', 'ENETUNREACH']).toContain(result)
  })

  it('cannot start processes: fork and exec are refused', async () => {
    const result = await confined(`
      const cp = require('node:child_process')
      const codes = [process.execPath, '/bin/sh'].map((f) => { const r = cp.spawnSync(f, ['-e', '1']); return r.error ? r.error.code : 'STARTED ' + r.status })
      console.log(JSON.stringify(codes))`)
    expect(result).toEqual(['EPERM', 'EPERM'])
  })

  it('holds JavaScript-side allocations to the process memory limit', async () => {
    const result = await confined(`
      const held = []
      let error = null
      try { for (let i = 0; i < 12; i++) held.push(new Uint8Array(256 * 2 ** 20).fill(1)) } catch (e) { error = e.name }
      console.log(JSON.stringify({ buffers: held.length, error }))`)
    expect(result).toMatchObject({ error: 'RangeError' })
    expect((result as { buffers: number }).buffers).toBeLessThan(MEMORY / (256 * 2 ** 20))
  })

  it('runs as nobody with no capabilities', async () => {
    const result = await confined(`
      const status = require('node:fs').readFileSync('/proc/self/status', 'utf8')
      console.log(JSON.stringify({ uid: process.getuid(), capEff: /CapEff:\\s*(\\w+)/.exec(status)[1], seccomp: /Seccomp:\\s*(\\d)/.exec(status)[1] }))`)
    expect(result).toEqual({ uid: 65534, capEff: '0000000000000000', seccomp: '2' })
  })
})

describe('seccomp filter', () => {
  it('is a whole number of BPF instructions ending in allow', () => {
    const filter = buildSeccompFilter('x64')
    expect(filter.length % 8).toBe(0)
    expect(filter.readUInt16LE(filter.length - 8)).toBe(0x06)
    expect(filter.readUInt32LE(filter.length - 4)).toBe(0x7fff0000)
    expect(buildSeccompFilter('arm64').length % 8).toBe(0)
  })
})
