/**
 * The inference API's overhead, as an IDE sees it: time to first token and decode rate of a
 * streamed `/v1/chat/completions` on agent A (embedded llama.cpp) against A's provider class
 * called directly in this process on the same GGUF; and through the Ollama provider hop, where
 * agent B serves the same request through A's Ollama-compatible API. Same prompt per round on
 * every path, greedy, same token limit and thread count; paths alternate and never overlap.
 * Run: node bench/inference-api.ts [rounds=9] [maxTokens=48]
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { EmbeddedLlamaProvider } from '../packages/agent/src/inference/index.ts'
import { cleanupAgents, startAgent } from '../tests/e2e/harness.ts'
import { machine, median, writeSection } from './results.ts'

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
  text: string
}

const modelPath =
  process.env.EDGECODER_TEST_MODEL ??
  execFileSync(join(ROOT, 'scripts/fetch-model.sh'), { encoding: 'utf8' }).trim().split('\n').at(-1)!

const prompt = (round: number) => `Task ${round}: list ${round + 3} fruits, one per line.`

async function agent(args: string[]): Promise<string> {
  return (await startAgent({ args, env: { EDGECODER_LOG_LEVEL: 'warn' } })).apiUrl
}

/** A streamed chat through an agent's OpenAI-compatible API, timed from the client's side. */
async function viaApi(apiUrl: string, round: number): Promise<Sample> {
  const t0 = performance.now()
  const res = await fetch(`${apiUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: 'user', content: prompt(round) }],
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
      if (j.usage) tokens = j.usage.completion_tokens
    }
  }
  const decodeMs = last - (first ?? last)
  return {
    ttftMs: (first ?? last) - t0,
    tokensPerSecond: decodeMs > 0 ? ((tokens - 1) * 1000) / decodeMs : 0,
    tokens,
    text,
  }
}

const provider = new EmbeddedLlamaProvider({ modelPath, threads })
async function viaProvider(round: number): Promise<Sample> {
  const r = await provider.chat({
    messages: [{ role: 'user', content: prompt(round) }],
    maxTokens,
    temperature: 0,
  })
  return {
    ttftMs: r.timeToFirstTokenMs ?? Number.NaN,
    tokensPerSecond: r.tokensPerSecond,
    tokens: r.completionTokens,
    text: r.text,
  }
}

try {
  const a = await agent(['--provider', 'embedded', '--model', modelPath, '--llama-threads', String(threads)])
  const b = await agent(['--provider', 'ollama', '--ollama-host', a])
  // Warm-up: load the model on both sides before timing.
  await viaApi(a, -1)
  await viaProvider(-1)
  const paths = { direct: [] as Sample[], api: [] as Sample[], hop: [] as Sample[] }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (['direct', 'api', 'hop'] as const) : (['hop', 'api', 'direct'] as const)
    for (const p of order) {
      const s = p === 'direct' ? await viaProvider(r) : await viaApi(p === 'api' ? a : b, r)
      paths[p].push(s)
    }
    if (paths.api[r]!.text !== paths.direct[r]!.text || paths.hop[r]!.text !== paths.direct[r]!.text) {
      throw new Error(`round ${r}: greedy replies differ between paths; the comparison would be unfair`)
    }
  }
  const m = (p: keyof typeof paths, k: 'ttftMs' | 'tokensPerSecond') => median(paths[p].map((s) => s[k]))
  const row = (label: string, p: keyof typeof paths) =>
    `| ${label} | ${m(p, 'ttftMs').toFixed(1)} ms | ${m(p, 'tokensPerSecond').toFixed(1)} tok/s | ${(m(p, 'ttftMs') / m('direct', 'ttftMs')).toFixed(3)} | ${(m('direct', 'tokensPerSecond') / m(p, 'tokensPerSecond')).toFixed(3)} |`
  const body = `Run: \`node bench/inference-api.ts ${rounds} ${maxTokens}\` on ${machine()}; Gemma 3 270M Q4_K_M, CPU, ${threads} threads, greedy, ${maxTokens} tokens, ${rounds} rounds, paths alternating; every path gave the same greedy reply each round.

| path | TTFT (median) | decode rate (median) | TTFT ratio vs direct | decode slowdown vs direct (goal ≤ 1.05) |
|---|---|---|---|---|
${row('provider called directly (baseline)', 'direct')}
${row('agent `/v1/chat/completions`, streamed', 'api')}
${row('agent B → Ollama provider → agent A', 'hop')}

TTFT through the API is measured at the client, so it includes HTTP, JSON and SSE framing; the direct figure starts at the call.`
  writeSection('Inference API', body)
  console.log(body)
} finally {
  await provider.stop()
  await cleanupAgents()
}
