#!/usr/bin/env node
// Stages the agent for the app's resources: the agent's bundle as bin/edgecoder runs it, our
// packages' TypeScript (the sandbox process runs from it; Node 24 strips types itself) and only
// the npm packages they need at run time, copied as files so native and wasm packages keep their
// layout.
//
// usage: node desktop/tools/stage-agent.mjs <repo-root> <out-dir>
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'

const [root, out] = process.argv.slice(2)
if (!root || !out) {
  console.error('usage: stage-agent.mjs <repo-root> <out-dir>')
  process.exit(2)
}

/** Our own packages, shipped as source outside node_modules (Node won't strip types inside it). */
const WORKSPACES = ['packages/agent', 'packages/protocol', 'packages/sandbox']
/**
 * node-llama-cpp's prebuilt binaries to ship (comma-separated in EDGECODER_LLAMA_BINARIES): the
 * CPU build for this platform by default. CUDA and Vulkan builds are hundreds of MB each.
 */
const DEFAULT_LLAMA = {
  'linux-x64': 'linux-x64',
  'linux-arm64': 'linux-arm64',
  'darwin-arm64': 'mac-arm64-metal',
  'darwin-x64': 'mac-x64',
}
const llamaKeep = (
  process.env.EDGECODER_LLAMA_BINARIES ??
  DEFAULT_LLAMA[`${process.platform}-${process.arch}`] ??
  ''
)
  .split(',')
  .filter(Boolean)
const keepAlternation = llamaKeep.map((n) => n.replace(/[^a-z0-9-]/g, '')).join('|') || '$^'
/** Run-time files that matter on another platform, for GPUs we don't ship, or only for building. */
const TRIM = [
  new RegExp(`^node_modules/@node-llama-cpp/(?!(${keepAlternation})/)`),
  /^node_modules\/node-llama-cpp\/llama\/gitRelease\.bundle$/,
  /(^|\/)\.github\//,
  /\.(md|markdown|d\.ts|d\.mts|d\.cts|map|tsbuildinfo)$/i,
]

const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'))

/** Resolves `name` from `fromDir` the way Node does: nearest node_modules first, up to the root. */
function resolvePackage(name, fromDir) {
  let dir = fromDir
  for (;;) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    if (dir === root || dirname(dir) === dir) return null
    dir = dirname(dir)
  }
}

const packages = new Set()
function visit(pkgDir) {
  const pkg = readJson(join(pkgDir, 'package.json'))
  const required = Object.keys(pkg.dependencies ?? {})
  // Optional peers (typescript for node-llama-cpp, say) are for tooling, not for running.
  const peers = Object.keys(pkg.peerDependencies ?? {}).filter(
    (n) => !pkg.peerDependenciesMeta?.[n]?.optional,
  )
  const optional = [...Object.keys(pkg.optionalDependencies ?? {}), ...peers]
  for (const [names, mustExist] of [
    [required, true],
    [optional, false],
  ]) {
    for (const name of names) {
      if (name.startsWith('@edgecoder/')) continue
      const dir = resolvePackage(name, pkgDir)
      if (!dir) {
        if (mustExist) throw new Error(`${pkg.name} needs ${name}, which is not installed: run npm ci first`)
        continue
      }
      if (packages.has(dir)) continue
      packages.add(dir)
      visit(dir)
    }
  }
}
for (const ws of WORKSPACES) visit(join(root, ws))

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const trimmed = (rel) => TRIM.some((re) => re.test(rel.split(sep).join('/')))

for (const ws of WORKSPACES) {
  cpSync(join(root, ws, 'package.json'), join(out, ws, 'package.json'))
  cpSync(join(root, ws, 'src'), join(out, ws, 'src'), {
    recursive: true,
    filter: (src) => !/\.test\.ts$/.test(src),
  })
}
for (const dir of packages) {
  const rel = relative(root, dir)
  if (trimmed(`${rel}/`)) continue
  cpSync(dir, join(out, rel), {
    recursive: true,
    dereference: true,
    filter: (src) => {
      const r = relative(root, src)
      // Nested node_modules are copied as packages of their own, only when needed.
      if (r !== rel && relative(dir, src).split(sep).includes('node_modules')) return false
      return !trimmed(statSync(src).isDirectory() ? `${r}/` : r)
    },
  })
}

// What the app runs: the agent's bundle (scripts/build-agent.ts, built by setup.sh), loaded with a
// fraction of the memory its TypeScript sources take. The sources above stay for the sandbox
// process, which the bundle starts from packages/sandbox/src.
const bundleDir = join(root, 'packages', 'agent', 'dist')
if (!existsSync(join(bundleDir, 'edgecoder.js')))
  throw new Error(
    `no agent bundle at ${bundleDir}: run scripts/setup.sh (it builds packages/agent/dist) first`,
  )
cpSync(bundleDir, join(out, 'packages', 'agent', 'dist'), {
  recursive: true,
  // Not the compile cache bin/edgecoder keeps beside the bundle in a checkout.
  filter: (src) => !src.endsWith('.tmp') && !src.includes('/.compile-cache'),
})

// The agent serves the built UI at /ui from <root>/desktop/dist; keep that layout when it is built.
const uiDist = join(root, 'desktop', 'dist')
if (existsSync(join(uiDist, 'index.html')))
  cpSync(uiDist, join(out, 'desktop', 'dist'), { recursive: true, dereference: true })

// Workspace links become a re-export: a .js shim may live in node_modules, the .ts it loads not.
for (const ws of WORKSPACES) {
  const pkg = readJson(join(root, ws, 'package.json'))
  const shimDir = join(out, 'node_modules', pkg.name)
  mkdirSync(shimDir, { recursive: true })
  const target = relative(shimDir, join(out, ws, pkg.exports['.']))
    .split(sep)
    .join('/')
  writeFileSync(
    join(shimDir, 'package.json'),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', exports: { '.': './index.js' } }, null, 2)}\n`,
  )
  writeFileSync(join(shimDir, 'index.js'), `export * from '${target}'\n`)
}

function sizeOf(p) {
  const s = statSync(p)
  if (!s.isDirectory()) return { bytes: s.size, files: 1 }
  let bytes = 0
  let files = 0
  for (const e of readdirSync(p)) {
    const r = sizeOf(join(p, e))
    bytes += r.bytes
    files += r.files
  }
  return { bytes, files }
}
const { bytes, files } = sizeOf(out)
console.log(
  `staged the agent: ${packages.size} packages, ${files} files, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${out}`,
)
