/**
 * The docs site: `node scripts/docs-site.ts build` (or `dev`). Before VitePress runs, pages that
 * come from elsewhere are generated into docs/ (both git-ignored):
 *   docs/api.md          from a real agent's /openapi.json
 *   docs/benchmarks/     bench/RESULTS.md and what it links to
 * The build fails on a dead link; the output is docs/.vitepress/dist.
 */
import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAgents, REPO_ROOT, startAgent } from '../tests/e2e/harness.ts'
import { type OpenApiDocument, renderOpenApi } from './docs-openapi.ts'

const DOCS = join(REPO_ROOT, 'docs')

async function generateApiPage(): Promise<void> {
  const agent = await startAgent({ args: ['--p2p-host', '127.0.0.1'], timeoutMs: 60_000 })
  try {
    const res = await agent.api('/openapi.json')
    if (!res.ok) throw new Error(`/openapi.json answered ${res.status}`)
    writeFileSync(join(DOCS, 'api.md'), renderOpenApi((await res.json()) as OpenApiDocument))
  } finally {
    await agent.stop()
    await cleanupAgents()
  }
}

function copyBenchmarks(): void {
  const out = join(DOCS, 'benchmarks')
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out)
  const bench = join(REPO_ROOT, 'bench')
  for (const f of readdirSync(bench)) {
    if (f === 'RESULTS.md') copyFileSync(join(bench, f), join(out, 'index.md'))
    else if (/\.(md|png|svg|jpg)$/.test(f)) copyFileSync(join(bench, f), join(out, f))
  }
}

function vitepress(command: string): Promise<number> {
  const cli = join(REPO_ROOT, 'node_modules/vitepress/bin/vitepress.js')
  const p = spawn(process.execPath, [cli, command, DOCS], { stdio: 'inherit', cwd: REPO_ROOT })
  return new Promise((resolve) => p.on('exit', (code) => resolve(code ?? 1)))
}

const command = process.argv[2] ?? 'build'
if (!['build', 'dev', 'generate'].includes(command)) {
  process.stderr.write('usage: node scripts/docs-site.ts build|dev|generate\n')
  process.exit(2)
}
await generateApiPage()
copyBenchmarks()
process.exit(command === 'generate' ? 0 : await vitepress(command))
