/**
 * The inference API's overhead, as an IDE sees it: time to first token and decode rate of a
 * streamed `/v1/chat/completions` on agent A (embedded llama.cpp) against A's provider class
 * called directly in this process on the same GGUF; and through the Ollama provider hop, where
 * agent B serves the request through A's Ollama-compatible API. Greedy, same token limit and
 * thread count; paths alternate and never overlap. Every path and round has a prompt of its own,
 * of the same shape (bench/prompts.ts): the API and the hop both end on A's one slot, whose KV cache
 * would otherwise hand the second of them the prompt the first had just evaluated.
 * Run: node bench/inference-api.ts [rounds=9] [maxTokens=48]
 */
import { execFileSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { EmbeddedLlamaProvider } from '../packages/agent/src/inference/index.ts'
import { cleanupAgents, startAgent } from '../tests/e2e/harness.ts'
import { distinctPrompt } from './prompts.ts'
import { atLeast, atMost, machine, median, reportGoals, writeSection } from './results.ts'

const rounds = Number(process.argv[2] ?? 9)
const maxTokens = Number(process.argv[3] ?? 48)
// One thread each: llama.cpp threads spin while they wait, so two processes with all cores each
// would slow whichever runs second; with one thread each neither path pays for the other.
const threads = Number(process.env.BENCH_THREADS ?? 1)
const MODEL = 'gemma-3-270m-Q4_K_M'
const ROOT = join(import.meta.dirname, '..')

interface Sample {
  ttftMs: number
  tokensPerSecond: number
  tokens: number
  promptTokens: number
  text: string
}

const modelPath =
  process.env.EDGECODER_TEST_MODEL ??
  execFileSync(join(ROOT, 'scripts/fetch-model.sh'), { encoding: 'utf8' }).trim().split('\n').at(-1)!

const PATHS = ['direct', 'api', 'hop'] as const
type Path = (typeof PATHS)[number]
const prompt = (round: number, path: Path) => distinctPrompt(3 * (round + 1) + PATHS.indexOf(path))

async function agent(args: string[]): Promise<string> {
  return (await startAgent({ args, env: { EDGECODER_LOG_LEVEL: 'warn' } })).apiUrl
}

/** A streamed chat through an agent's OpenAI-compatible API, timed from the client's side. */
async function viaApi(apiUrl: string, content: string): Promise<Sample> {
  const t0 = performance.now()
  const res = await fetch(`${apiUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: 'user', content }],
      max_tokens: maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  })
  let first: number | null = null
  let last = 0
  let text = ''
  let tokens = 0
  let promptTokens = Number.NaN
  let buf = ''
  for await (const chunk of res.body!) {
    buf += Buffer.from(chunk).toString('utf8')
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const data = buf.slice(0, i).replace(/^data: /, '')
      buf = buf.slice(i + 2)
      if (data === '[DONE]') continue
      const j = JSON.parse(data)
      const piece = j.choices?.[0]?.delta?.content
      if (piece) {
        first ??= performance.now()
        last = performance.now()
        text += piece
      }
      if (j.usage) {
        tokens = j.usage.completion_tokens
        promptTokens = j.usage.prompt_tokens
      }
    }
  }
  const decodeMs = last - (first ?? last)
  return {
    ttftMs: (first ?? last) - t0,
    tokensPerSecond: decodeMs > 0 ? ((tokens - 1) * 1000) / decodeMs : 0,
    tokens,
    promptTokens,
    text,
  }
}

const provider = new EmbeddedLlamaProvider({ modelPath, threads })
async function viaProvider(text: string): Promise<Sample> {
  const r = await provider.chat({
    messages: [{ role: 'user', content: text }],
    maxTokens,
    temperature: 0,
  })
  return {
    ttftMs: r.timeToFirstTokenMs ?? Number.NaN,
    tokensPerSecond: r.tokensPerSecond,
    tokens: r.completionTokens,
    promptTokens: r.promptTokens,
    text: r.text,
  }
}

const loadStart = loadavg()[0]!
try {
  const a = await agent(['--provider', 'embedded', '--model', modelPath, '--llama-threads', String(threads)])
  const b = await agent(['--provider', 'ollama', '--ollama-host', a])
  // Warm-up: load the model on both sides before timing (prompts 0-2, which no round uses).
  await viaApi(a, prompt(-1, 'api'))
  await viaApi(b, prompt(-1, 'hop'))
  await viaProvider(prompt(-1, 'direct'))
  const paths = { direct: [] as Sample[], api: [] as Sample[], hop: [] as Sample[] }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (['direct', 'api', 'hop'] as const) : (['hop', 'api', 'direct'] as const)
    for (const p of order) {
      const s =
        p === 'direct' ? await viaProvider(prompt(r, p)) : await viaApi(p === 'api' ? a : b, prompt(r, p))
      paths[p].push(s)
    }
  }
  const m = (p: keyof typeof paths, k: 'ttftMs' | 'tokensPerSecond' | 'tokens' | 'promptTokens') =>
    median(paths[p].map((s) => s[k]))
  const counts = (k: 'tokens' | 'promptTokens') => PATHS.map((p) => `${p} ${m(p, k)}`).join(', ')
  const row = (label: string, p: keyof typeof paths) =>
    `| ${label} | ${m(p, 'ttftMs').toFixed(1)} ms | ${m(p, 'tokensPerSecond').toFixed(1)} tok/s | ${(m(p, 'ttftMs') / m('direct', 'ttftMs')).toFixed(3)} | ${(m('direct', 'tokensPerSecond') / m(p, 'tokensPerSecond')).toFixed(3)} |`
  const body = `Run: \`node bench/inference-api.ts ${rounds} ${maxTokens}\` on ${machine()}; Gemma 3 270M Q4_K_M, CPU, ${threads} threads, greedy, ${maxTokens} tokens, ${rounds} rounds, paths alternating, a prompt of its own for every path and round (same shape; prompt tokens, median: ${counts('promptTokens')}; tokens generated: ${counts('tokens')}), so that neither the API nor the hop, which share agent A's slot, finds its prompt in A's KV cache.

| path | TTFT (median) | decode rate (median) | TTFT ratio vs direct | decode slowdown vs direct (goal ≤ 1.05) |
|---|---|---|---|---|
${row('provider called directly (baseline)', 'direct')}
${row('agent `/v1/chat/completions`, streamed', 'api')}
${row('agent B → Ollama provider → agent A', 'hop')}

TTFT through the API is measured at the client, so it includes HTTP, JSON and SSE framing; the direct figure starts at the call.
Load average (1 min) ${loadStart.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end, on shared cores.`
  writeSection('Inference API', body)
  const decode = (p: keyof typeof paths) => m(p, 'tokensPerSecond') / m('direct', 'tokensPerSecond')
  const ttft = (p: keyof typeof paths) => m(p, 'ttftMs') / m('direct', 'ttftMs')
  const r3 = (x: number) => x.toFixed(3)
  reportGoals('inference-api', [
    atLeast(
      'decode rate through `/v1/chat/completions`, against the provider called directly',
      decode('api'),
      0.95,
      r3,
    ),
    atMost(
      'time to first token through `/v1/chat/completions`, against the provider called directly',
      ttft('api'),
      1.1,
      r3,
    ),
    atLeast(
      'decode rate through a peer (agent B → agent A), against the provider called directly',
      decode('hop'),
      0.95,
      r3,
    ),
    atMost('time to first token through a peer, against the provider called directly', ttft('hop'), 1.1, r3),
  ])
  console.log(body)
} finally {
  await provider.stop()
  await cleanupAgents()
}
