/**
 * The embedded inference engine against llama.cpp's own server, built from the source that
 * node-llama-cpp ships (scripts/build-llama-server.sh): the same GGUF, thread count and context,
 * llama-server's `/v1/chat/completions` against the agent's (`bin/edgecoder start`, embedded
 * provider). Rounds alternate which side goes first and never overlap; every request of every round
 * and side has a prompt of its own (same length, different words), so no side answers from a KV
 * cache the other side's request warmed. Greedy, same token limit.
 * Measures, medians over the rounds: decode rate, time to first token, streamed and non-streamed
 * total; resident memory with the model loaded; spawn → first successful chat, over fresh starts.
 * Run: node bench/llama-server.ts [--rounds 18] [--max-tokens 64] [--threads <cores>] [--starts 3]
 *      [--llama-server <path>] [--json] [--no-write]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { availableParallelism, loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BIN, cleanupAgents, REPO_ROOT, startAgent } from '../tests/e2e/harness.ts'
import { distinctPrompt } from './prompts.ts'
import { machine, median, writeSection } from './results.ts'

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '18' },
    'max-tokens': { type: 'string', default: '64' },
    threads: { type: 'string', default: String(availableParallelism()) },
    context: { type: 'string', default: '4096' },
    starts: { type: 'string', default: '3' },
    'llama-server': { type: 'string' },
    json: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
})
const rounds = Number(opt.rounds)
const maxTokens = Number(opt['max-tokens'])
const threads = Number(opt.threads)
const contextSize = Number(opt.context)
const starts = Number(opt.starts)
const DEFAULT_SERVER = join(REPO_ROOT, 'bench/out/llama.cpp/build/bin/llama-server')
const serverPath = opt['llama-server'] ?? process.env.EDGECODER_LLAMA_SERVER ?? DEFAULT_SERVER
const MiB = 2 ** 20

/** The CPU and threading flags the server was built with, from its CMake cache. */
function buildFlags(): string {
  try {
    const cache = readFileSync(join(serverPath, '../../CMakeCache.txt'), 'utf8')
    const on = [...cache.matchAll(/^GGML_(NATIVE|OPENMP|AVX512\w*|AVX2):BOOL=(\w+)$/gm)].map(
      (m) => `${m[1]}=${m[2]}`,
    )
    return on.length > 0 ? `\`${on.join(' ')}\`` : 'flags unknown'
  } catch {
    return 'flags unknown'
  }
}

if (!existsSync(serverPath)) {
  console.error(`no llama-server at ${serverPath}.
Build it from the llama.cpp source node-llama-cpp ships (same version as the embedded engine):
  scripts/build-llama-server.sh            # into bench/out/llama.cpp/build/bin/llama-server
or pass one: --llama-server <path> (or EDGECODER_LLAMA_SERVER).`)
  process.exit(1)
}
for (const [name, v] of Object.entries({ rounds, maxTokens, threads, contextSize, starts })) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name} must be a positive integer`)
    process.exit(1)
  }
}

const modelPath =
  process.env.EDGECODER_TEST_MODEL ??
  execFileSync(join(REPO_ROOT, 'scripts/fetch-model.sh'), { encoding: 'utf8' }).trim().split('\n').at(-1)!
const MODEL = 'gemma-3-270m-Q4_K_M'

type Side = 'server' | 'agent'
type Kind = 'stream' | 'whole'

const SIDES: Side[] = ['server', 'agent']
const KINDS: Kind[] = ['stream', 'whole']
/** Its own prompt for every round, side and kind (bench/prompts.ts). */
const prompt = (round: number, side: Side, kind: Kind) =>
  distinctPrompt(round * 4 + SIDES.indexOf(side) * 2 + KINDS.indexOf(kind))

interface Sample {
  ttftMs: number
  tokensPerSecond: number
  totalMs: number
  promptTokens: number
  completionTokens: number
}

function body(p: string, stream: boolean): string {
  return JSON.stringify({
    model: MODEL,
    messages: [{ role: 'user', content: p }],
    max_tokens: maxTokens,
    temperature: 0,
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
  })
}

/** A streamed chat, timed at the client: first content chunk, last one, and the token count. */
async function streamed(base: string, p: string): Promise<Sample> {
  const t0 = performance.now()
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body(p, true),
  })
  if (!res.ok) throw new Error(`${base}: ${res.status} ${await res.text()}`)
  let first: number | undefined
  let last = 0
  let chunks = 0
  let usage: { prompt_tokens: number; completion_tokens: number } | undefined
  let buf = ''
  for await (const chunk of res.body!) {
    buf += Buffer.from(chunk).toString('utf8')
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const data = buf.slice(0, i).replace(/^data: /, '')
      buf = buf.slice(i + 2)
      if (data === '[DONE]' || data === '') continue
      const j = JSON.parse(data)
      if (j.choices?.[0]?.delta?.content) {
        first ??= performance.now()
        last = performance.now()
        chunks++
      }
      if (j.usage) usage = j.usage
    }
  }
  const end = performance.now()
  const tokens = usage?.completion_tokens ?? chunks
  return {
    ttftMs: (first ?? end) - t0,
    tokensPerSecond: first !== undefined && last > first ? ((tokens - 1) * 1000) / (last - first) : 0,
    totalMs: end - t0,
    promptTokens: usage?.prompt_tokens ?? Number.NaN,
    completionTokens: tokens,
  }
}

/** A non-streamed chat: only its total time is comparable. */
async function whole(base: string, p: string): Promise<Sample> {
  const t0 = performance.now()
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body(p, false),
  })
  if (!res.ok) throw new Error(`${base}: ${res.status} ${await res.text()}`)
  const j = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }
  return {
    ttftMs: Number.NaN,
    tokensPerSecond: Number.NaN,
    totalMs: performance.now() - t0,
    promptTokens: j.usage.prompt_tokens,
    completionTokens: j.usage.completion_tokens,
  }
}

function memory(pid: number): { rss: number; anon: number; file: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)![1]) * 1024
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Running {
  base: string
  pid: number
  stop: () => Promise<void>
}

async function startServer(): Promise<Running> {
  const port = await freePort()
  const proc: ChildProcess = spawn(
    serverPath,
    [
      ...['-m', modelPath, '--host', '127.0.0.1', '--port', String(port)],
      ...['-t', String(threads), '-tb', String(threads), '-c', String(contextSize), '-np', '1'],
      '--no-webui',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  proc.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-8000)
  })
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  exited.then(() => {
    if (stopping) return
    // Nothing would answer the rounds: say why and stop instead of waiting on them.
    console.error(`llama-server exited early (${proc.signalCode ?? proc.exitCode}):\n${stderr}`)
    void cleanupAgents().finally(() => process.exit(1))
  })
  let stopping = false
  return {
    base: `http://127.0.0.1:${port}`,
    pid: proc.pid!,
    stop: async () => {
      stopping = true
      proc.kill('SIGTERM')
      await exited
    },
  }
}

async function startEdgecoder(): Promise<Running> {
  const a = await startAgent({
    command: [BIN],
    args: [
      ...['--provider', 'embedded', '--model', modelPath, '--llama-threads', String(threads)],
      ...['--max-concurrent-tasks', '1'],
    ],
    env: { EDGECODER_LOG_LEVEL: 'warn' },
    timeoutMs: 120_000,
  })
  return {
    base: a.apiUrl,
    pid: a.proc.pid!,
    stop: async () => {
      await a.stop()
    },
  }
}

const start = { server: startServer, agent: startEdgecoder }

/** Spawn → the first 200 to a chat, polled; the first answer includes loading the model. */
async function timeToFirstChat(side: Side): Promise<number> {
  const t0 = performance.now()
  const r = await start[side]()
  try {
    for (;;) {
      const ok = await fetch(`${r.base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1 }),
      }).then(
        (res) => res.ok,
        () => false,
      )
      if (ok) return performance.now() - t0
      await sleep(10)
    }
  } finally {
    await r.stop()
  }
}

const loadStart = loadavg()[0]!
execFileSync(join(REPO_ROOT, 'scripts/setup.sh'), ['--quiet'], { stdio: 'inherit' })
const firstChat: Record<Side, number[]> = { server: [], agent: [] }
const samples: Record<Side, Record<Kind, Sample[]>> = {
  server: { stream: [], whole: [] },
  agent: { stream: [], whole: [] },
}
let mem: Record<Side, ReturnType<typeof memory>>
try {
  for (let i = 0; i < starts; i++) {
    const order: Side[] = i % 2 === 0 ? ['server', 'agent'] : ['agent', 'server']
    for (const side of order) firstChat[side].push(await timeToFirstChat(side))
    console.error(
      `start ${i + 1}: server ${firstChat.server.at(-1)!.toFixed(0)} ms, agent ${firstChat.agent.at(-1)!.toFixed(0)} ms`,
    )
  }
  const running = { server: await startServer(), agent: await startEdgecoder() }
  try {
    // Warm-up: the model loaded and its pages touched on both sides before anything is timed.
    for (const side of SIDES) {
      for (;;) {
        const ok = await whole(running[side].base, 'Warm up.').then(
          () => true,
          () => false,
        )
        if (ok) break
        await sleep(50)
      }
    }
    for (let r = 0; r < rounds; r++) {
      const order: Side[] = r % 2 === 0 ? ['server', 'agent'] : ['agent', 'server']
      for (const side of order) {
        samples[side].stream.push(await streamed(running[side].base, prompt(r, side, 'stream')))
        samples[side].whole.push(await whole(running[side].base, prompt(r, side, 'whole')))
      }
      const [s, a] = [samples.server.stream.at(-1)!, samples.agent.stream.at(-1)!]
      console.error(
        `round ${r + 1}: decode server ${s.tokensPerSecond.toFixed(1)} agent ${a.tokensPerSecond.toFixed(1)} tok/s; ` +
          `TTFT server ${s.ttftMs.toFixed(0)} agent ${a.ttftMs.toFixed(0)} ms; load ${loadavg()[0]!.toFixed(2)}`,
      )
    }
    mem = { server: memory(running.server.pid), agent: memory(running.agent.pid) }
  } finally {
    await running.server.stop()
    await running.agent.stop()
  }
} finally {
  await cleanupAgents()
}
const loadEnd = loadavg()[0]!

const med = (side: Side, kind: Kind, k: keyof Sample) => median(samples[side][kind].map((s) => s[k]))
const figures = {
  decodeTokensPerSecond: {
    server: med('server', 'stream', 'tokensPerSecond'),
    agent: med('agent', 'stream', 'tokensPerSecond'),
  },
  ttftMs: { server: med('server', 'stream', 'ttftMs'), agent: med('agent', 'stream', 'ttftMs') },
  streamedTotalMs: { server: med('server', 'stream', 'totalMs'), agent: med('agent', 'stream', 'totalMs') },
  wholeTotalMs: { server: med('server', 'whole', 'totalMs'), agent: med('agent', 'whole', 'totalMs') },
  rssMiB: { server: mem!.server.rss / MiB, agent: mem!.agent.rss / MiB },
  firstChatMs: { server: median(firstChat.server), agent: median(firstChat.agent) },
}
const tokens = {
  prompt: { server: med('server', 'stream', 'promptTokens'), agent: med('agent', 'stream', 'promptTokens') },
  completion: {
    server: med('server', 'stream', 'completionTokens'),
    agent: med('agent', 'stream', 'completionTokens'),
  },
}
const ratio = (k: keyof typeof figures) => figures[k].agent / figures[k].server
const goals: Partial<Record<keyof typeof figures, [string, (r: number) => boolean]>> = {
  decodeTokensPerSecond: ['≥ 0.95', (r) => r >= 0.95],
  ttftMs: ['≤ 1.1', (r) => r <= 1.1],
  rssMiB: ['≤ 1.3', (r) => r <= 1.3],
}
const summary = {
  machine: machine(),
  server: serverPath,
  threads,
  contextSize,
  rounds,
  maxTokens,
  starts,
  loadAverage: { start: loadStart, end: loadEnd },
  tokens,
  figures: Object.fromEntries(
    Object.entries(figures).map(([k, v]) => [k, { ...v, ratio: ratio(k as keyof typeof figures) }]),
  ),
  memory: mem!,
}

const fmt = (k: keyof typeof figures, v: number) =>
  k === 'decodeTokensPerSecond'
    ? `${v.toFixed(1)} tok/s`
    : k === 'rssMiB'
      ? `${v.toFixed(0)} MiB`
      : `${v.toFixed(0)} ms`
const LABELS: Record<keyof typeof figures, string> = {
  decodeTokensPerSecond: 'decode rate (streamed)',
  ttftMs: 'time to first token (streamed)',
  streamedTotalMs: `streamed request, ${maxTokens} tokens at most, total`,
  wholeTotalMs: 'non-streamed request, total',
  rssMiB: 'resident memory with the model loaded (VmRSS)',
  firstChatMs: `spawn → first successful chat (median of ${starts} starts)`,
}
const rows = (Object.keys(LABELS) as (keyof typeof figures)[]).map((k) => {
  const g = goals[k]
  const verdict = g === undefined ? '' : `${g[0]}: ${g[1](ratio(k)) ? 'met' : '**missed**'}`
  return `| ${LABELS[k]} | ${fmt(k, figures[k].server)} | ${fmt(k, figures[k].agent)} | ${ratio(k).toFixed(2)} | ${verdict} |`
})
const list = (side: Side) => samples[side].stream.map((s) => s.tokensPerSecond.toFixed(1)).join(', ')
const mm = (m: ReturnType<typeof memory>) =>
  `${(m.rss / MiB).toFixed(0)} MiB (${(m.anon / MiB).toFixed(0)} anonymous, ${(m.file / MiB).toFixed(0)} file-backed: the mapped model)`
const section = `Run: \`node bench/llama-server.ts --rounds ${rounds} --max-tokens ${maxTokens} --threads ${threads} --starts ${starts}\` on ${machine()}.
Server: \`${serverPath.startsWith(REPO_ROOT) ? serverPath.slice(REPO_ROOT.length + 1) : serverPath}\` (scripts/build-llama-server.sh: the llama.cpp of node-llama-cpp's bundle; ${buildFlags()}),
\`-t ${threads} -tb ${threads} -c ${contextSize} -np 1\`. Agent: \`bin/edgecoder start --provider embedded --model … --llama-threads ${threads}\` (context ${contextSize}, 1 slot).
Gemma 3 270M Q4_K_M, greedy, at most ${maxTokens} tokens, ${rounds} rounds alternating which side goes first, a streamed and a
non-streamed request per side and round, each with its own prompt of the same shape (prompt tokens, median: server ${tokens.prompt.server}, agent ${tokens.prompt.agent};
tokens generated: server ${tokens.completion.server}, agent ${tokens.completion.agent}). Ratio = agent / server.

| measure (median) | llama-server | agent | ratio | goal |
|---|---|---|---|---|
${rows.join('\n')}

Memory after the rounds: llama-server ${mm(mem!.server)}; agent ${mm(mem!.agent)}.
Decode tok/s per round, server: ${list('server')}; agent: ${list('agent')}.
Load average (1 min) ${loadStart.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end, on shared cores.`

if (!opt['no-write']) writeSection('Inference engine against llama-server', section)
console.log(opt.json ? JSON.stringify(summary, null, 2) : section)
