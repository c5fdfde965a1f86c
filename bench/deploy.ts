/**
 * What the hosted apps' images and the docs site add to CI, and how the seed image starts and
 * stops: seed and portal image builds (cold once with --cold, then warm), image sizes, container start to ready,
 * SIGTERM to exit, docs site build. Baseline in the same run: the same agent started natively.
 * Run as root (Docker): node bench/deploy.ts [runs=3] [--cold]
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { buildImage, docker, dockerReady, freePortPair, runContainer } from '../tests/e2e/deploy/docker.ts'
import { cleanupAgents, REPO_ROOT, startAgent } from '../tests/e2e/harness.ts'
import { atMost, machine, median, reportGoals, writeSection } from './results.ts'

const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 3)
const cold = process.argv.includes('--cold')
const IMAGE = 'edgecoder-seed:bench'
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`

const t0 = performance.now()
const { baseImage } = await dockerReady()
const baseMs = performance.now() - t0
const coldMs = cold
  ? await buildImage('deploy/fly/seed-node.Dockerfile', IMAGE, baseImage, { noCache: true })
  : null
const warm: number[] = []
for (let i = 0; i < runs; i++)
  warm.push(await buildImage('deploy/fly/seed-node.Dockerfile', IMAGE, baseImage))
const sizeMb = Number(await docker(['image', 'inspect', IMAGE, '--format', '{{.Size}}'])) / 1e6
const PORTAL = 'edgecoder-portal:bench'
const portalColdMs = cold
  ? await buildImage('deploy/fly/portal.Dockerfile', PORTAL, baseImage, { noCache: true })
  : null
const portalWarm: number[] = []
for (let i = 0; i < runs; i++)
  portalWarm.push(await buildImage('deploy/fly/portal.Dockerfile', PORTAL, baseImage))
const portalMb = Number(await docker(['image', 'inspect', PORTAL, '--format', '{{.Size}}'])) / 1e6

const ready: number[] = []
const stop: number[] = []
const native: number[] = []
for (let i = 0; i < runs; i++) {
  const [api, p2p] = [await freePortPair(), await freePortPair()]
  const name = `edgecoder-bench-${randomBytes(4).toString('hex')}`
  const started = performance.now()
  const c = await runContainer(name, [
    '--network',
    'host',
    '-e',
    `EDGECODER_API_PORT=${api}`,
    '-e',
    `EDGECODER_P2P_PORT=${p2p}`,
    '-e',
    'EDGECODER_P2P_HOST=127.0.0.1',
    '-e',
    'EDGECODER_LOG_LEVEL=warn',
    IMAGE,
  ])
  while ((await fetch(`http://127.0.0.1:${api}/readyz`)).status !== 200)
    await new Promise((r) => setTimeout(r, 5))
  ready.push(performance.now() - started)
  const stopping = performance.now()
  await docker(['kill', '--signal', 'SIGTERM', name])
  await c.ended
  stop.push(performance.now() - stopping)
  await docker(['rm', '-f', '-v', name])

  const n0 = performance.now()
  const a = await startAgent({ args: ['--p2p-host', '127.0.0.1'], env: { EDGECODER_LOG_LEVEL: 'warn' } })
  while ((await a.api('/readyz')).status !== 200) await new Promise((r) => setTimeout(r, 5))
  native.push(performance.now() - n0)
  await a.stop()
  await cleanupAgents()
}

const d0 = performance.now()
const code = await new Promise<number | null>((r) =>
  spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', join(REPO_ROOT, 'scripts/docs-site.ts'), 'build'],
    {
      stdio: 'ignore',
    },
  ).on('exit', r),
)
const docsMs = performance.now() - d0
if (code !== 0) throw new Error(`docs build failed (${code})`)

writeSection(
  'Deploy: images and docs site',
  `\`node bench/deploy.ts ${runs}${cold ? ' --cold' : ''}\` as root on ${machine()}; medians of ${runs}.

| measure | result |
|---|---|
| local Debian base (debootstrap once, then cached: this run) | ${s(baseMs)} |
${coldMs === null ? '' : `| seed image, cold build (npm install, llama.cpp binary, no layer cache) | ${s(coldMs)} |\n`}| seed image, warm build (layer cache) | ${s(median(warm))} |
| seed image size | ${sizeMb.toFixed(0)} MB |
${portalColdMs === null ? '' : `| portal image, cold build (npm install, web UI build) | ${s(portalColdMs)} |\n`}| portal image, warm build | ${s(median(portalWarm))} |
| portal image size | ${portalMb.toFixed(0)} MB |
| container start to /readyz 200 | ${s(median(ready))} (native agent, same run: ${s(median(native))}; ratio ${(median(ready) / median(native)).toFixed(2)}) |
| SIGTERM to container exit | ${s(median(stop))} (goal: under 10 s) |
| docs site build (agent for the API page + VitePress) | ${s(docsMs)} |

The first \`scripts/docker-base.sh\` on a machine runs debootstrap (about 100 s here: 98 s measured
with \`time\`); later runs import the cached tarball or find the image. A fresh CI machine so pays
base + cold build once per image (seed, portal) before the image tests' own time.`,
)
console.log('written to bench/RESULTS.md')
reportGoals('deploy', [
  atMost('SIGTERM to container exit (median)', median(stop) / 1000, 10, (x) => `${x.toFixed(1)} s`, true),
])
