/**
 * Where processes spent their CPU within a time window, from V8 `.cpuprofile` files (`node
 * --cpu-prof`). V8 stamps samples with the monotonic clock that `process.hrtime` reads, so a bench
 * can mark a window in its own process and cut every agent's profile to it.
 *
 * Each sample is charged to the innermost frame that is code of ours or of a package (not Node's
 * internals, not a native builtin): time in `node:crypto` called by noise counts as noise. What a
 * sample shows with no such frame is Node's own work (timers, sockets) or V8's (GC, compiling).
 *
 * "Busy" is the time a process was not idle. With more processes than cores, a process waiting
 * for a core in the middle of its work is busy too: the shares say where the work is, the sum
 * overstates the CPU it took.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  parent?: number
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

/** Category by the code's location; the first that matches wins. */
const CATEGORIES: [string, RegExp][] = [
  [
    'ours: noise primitives (ChaCha20-Poly1305, X25519 on node:crypto)',
    /packages\/agent\/src\/mesh\/noise-crypto\.ts/,
  ],
  ['ours: Ed25519 checks of adverts (node:crypto)', /packages\/agent\/src\/mesh\/peer-keys\.ts/],
  ['ours: mesh (intake, peer table, advertiser, connectivity)', /packages\/agent\/src\/mesh\//],
  ['ours: HTTP API (the bench reading the agents)', /packages\/agent\/src\/(api|server|http)/],
  ['ours: protocol (canonical JSON, schemas, signatures)', /packages\/protocol\//],
  ['ours: rest of the agent', /packages\/agent\/src\//],
  ['zod (schema checks)', /node_modules\/zod\//],
  ['@noble (Ed25519, hashes)', /node_modules\/@noble\//],
  ['gossipsub', /node_modules\/@libp2p\/gossipsub\//],
  ['noise (encryption)', /node_modules\/@chainsafe\/libp2p-noise\//],
  ['yamux (stream multiplexing)', /yamux\//],
  [
    'protobuf and byte lists',
    /node_modules\/(protons-runtime|uint8arraylist|uint8arrays|@chainsafe\/as-sha256)\//,
  ],
  [
    'libp2p (rest)',
    /node_modules\/(@libp2p|libp2p|@multiformats|multiformats|it-[a-z-]+|p-queue|race-signal)/,
  ],
  [
    'HTTP server and logging (fastify, pino)',
    /node_modules\/(fastify|@fastify|pino|find-my-way|light-my-request)/,
  ],
  ['other packages', /node_modules\//],
  ['ours: other', /\/work\/|file:\/\//],
]
const IDLE = '(idle)'
const NODE_OWN = "Node's own (timers, sockets, streams)"
const V8_GC = 'V8: garbage collection'
const V8_PROGRAM = 'V8: compiling and other native work'

export interface CpuSummary {
  /** Processes whose profile overlapped the windows. */
  processes: number
  /** The windows' length, together. */
  windowMs: number
  /** Milliseconds of CPU (not idle) within the window, all processes together, per category. */
  byCategory: Map<string, number>
  busyMs: number
  /** Our own functions by the time charged to them (Node's and native code they call included). */
  ourFunctions: Map<string, number>
}

/** The category of a sample, and the frame it is charged to (undefined for V8's and Node's own). */
interface Charge {
  cat: string
  frame?: CallFrame
}

function chargeOf(node: ProfileNode, nodes: Map<number, ProfileNode>, memo: Map<number, Charge>): Charge {
  const hit = memo.get(node.id)
  if (hit !== undefined) return hit
  const { url, functionName } = node.callFrame
  let charge: Charge | undefined
  if (functionName === '(idle)') charge = { cat: IDLE }
  else if (functionName === '(garbage collector)') charge = { cat: V8_GC }
  else if (functionName === '(program)') charge = { cat: V8_PROGRAM }
  else if (url !== '' && !url.startsWith('node:')) {
    const cat = CATEGORIES.find(([, re]) => re.test(url))?.[0]
    if (cat !== undefined) charge = { cat, frame: node.callFrame }
  }
  if (charge === undefined) {
    const parent = node.parent === undefined ? undefined : nodes.get(node.parent)
    charge =
      parent === undefined || parent.callFrame.functionName === '(root)'
        ? { cat: NODE_OWN }
        : chargeOf(parent, nodes, memo)
  }
  memo.set(node.id, charge)
  return charge
}

/** Sums every `.cpuprofile` in `dir` over the windows, each [fromUs, toUs] of the monotonic clock. */
export function summarizeProfiles(dir: string, windows: [number, number][]): CpuSummary {
  const fromUs = Math.min(...windows.map((w) => w[0]))
  const toUs = Math.max(...windows.map((w) => w[1]))
  const inWindow = (t: number) => windows.some(([a, b]) => t >= a && t <= b)
  const byCategory = new Map<string, number>()
  const ourFunctions = new Map<string, number>()
  let processes = 0
  const add = (m: Map<string, number>, k: string, ms: number) => m.set(k, (m.get(k) ?? 0) + ms)
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile
    if (p.endTime < fromUs || p.startTime > toUs) continue
    processes++
    const nodes = new Map(p.nodes.map((n) => [n.id, n]))
    for (const n of p.nodes) for (const c of n.children ?? []) nodes.get(c)!.parent = n.id
    const memo = new Map<number, Charge>()
    let t = p.startTime
    for (let i = 0; i < p.samples.length; i++) {
      t += p.timeDeltas[i]!
      if (!inWindow(t)) continue
      // The time since the previous sample is charged to this one.
      const ms = p.timeDeltas[i]! / 1000
      const node = nodes.get(p.samples[i]!)!
      const { cat, frame } = chargeOf(node, nodes, memo)
      add(byCategory, cat, ms)
      if (cat.startsWith('ours') && frame !== undefined) {
        const file = frame.url.replace(/^.*\/packages\//, '')
        add(ourFunctions, `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`, ms)
      }
    }
  }
  const busyMs = [...byCategory].filter(([k]) => k !== IDLE).reduce((a, [, v]) => a + v, 0)
  byCategory.delete(IDLE)
  const windowMs = windows.reduce((a, [x, y]) => a + (y - x) / 1000, 0)
  return { processes, windowMs, byCategory, busyMs, ourFunctions }
}

/** The monotonic clock V8's profiler stamps samples with, in microseconds. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n)

/** A markdown table of a summary: per category, ms per `unit` and share of the busy time. */
export function cpuTable(s: CpuSummary, units: number, unit: string): string {
  const rows = [...s.byCategory]
    .sort((a, b) => b[1] - a[1])
    .map(
      ([k, ms]) =>
        `| ${k} | ${(ms / units).toFixed(2)} ms | ${((100 * ms) / Math.max(1e-9, s.busyMs)).toFixed(1)} % |`,
    )
  const top = [...s.ourFunctions]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, ms]) => `\`${k}\` ${(ms / units).toFixed(2)} ms`)
  return `| where (the innermost frame of ours or of a package) | busy per ${unit}, all agents | share of busy time |
|---|---|---|
${rows.join('\n')}
| **busy in all** | **${(s.busyMs / units).toFixed(2)} ms** | of ${((s.windowMs * s.processes) / units).toFixed(0)} ms of process time (${s.processes} processes × the window) |

Our functions by the time charged to them (with the Node and native code they call), per ${unit}: ${top.length > 0 ? top.join('; ') : 'none sampled'}.`
}

/** Two summaries side by side, per category: CPU per unit in each and what the second adds. */
export function cpuDiffTable(base: CpuSummary, other: CpuSummary, units: number): string {
  const keys = [...new Set([...base.byCategory.keys(), ...other.byCategory.keys()])]
  const per = (s: CpuSummary, k: string) => (s.byCategory.get(k) ?? 0) / units
  const rows = keys
    .map((k) => ({ k, a: per(base, k), b: per(other, k) }))
    .sort((x, y) => y.b - y.a - (x.b - x.a))
    .map(({ k, a, b }) => `| ${k} | ${a.toFixed(2)} ms | ${b.toFixed(2)} ms | ${(b - a).toFixed(2)} ms |`)
  const added = [...other.ourFunctions]
    .map(([k, ms]) => [k, (ms - (base.ourFunctions.get(k) ?? 0)) / units] as const)
    .sort((x, y) => y[1] - x[1])
    .slice(0, 8)
    .map(([k, ms]) => `\`${k}\` ${ms.toFixed(2)} ms`)
  return `| where (the innermost frame of ours or of a package) | local, per task | routed, per task | routed − local |
|---|---|---|---|
${rows.join('\n')}
| **busy in all** | **${(base.busyMs / units).toFixed(2)} ms** | **${(other.busyMs / units).toFixed(2)} ms** | **${((other.busyMs - base.busyMs) / units).toFixed(2)} ms** |

Our functions a routed task adds most time to (with the Node and native code they call), per task: ${added.join('; ')}.`
}
