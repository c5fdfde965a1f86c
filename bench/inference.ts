/**
 * Embedded inference overhead: time to first token and decode rate through EmbeddedLlamaProvider
 * against node-llama-cpp's LlamaChat called directly, on the same GGUF with the same prompt,
 * greedy decoding, the same token limit, context size and thread count. Runs alternate (which
 * side goes first flips each round) and each round's prompt is new to both sides, so neither
 * answers from a warm KV cache. Greedy outputs must match; the bench fails otherwise.
 * Run: node bench/inference.ts [rounds=15] [maxTokens=64]
 */
import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { type ChatHistoryItem, getLlama, LlamaChat } from 'node-llama-cpp'
import { EmbeddedLlamaProvider, llamaRuntimeOptions } from '../packages/agent/src/inference/index.ts'
import { atMost, machine, median, reportGoals, writeSection } from './results.ts'

const rounds = Number(process.argv[2] ?? 15)
const maxTokens = Number(process.argv[3] ?? 64)
const contextSize = 2048
const threads = availableParallelism()

interface Sample {
  ttftMs: number
  tokensPerSecond: number
  tokens: number
  text: string
}

function modelPath(): string {
  if (process.env.EDGECODER_TEST_MODEL) return process.env.EDGECODER_TEST_MODEL
  const out = execFileSync(join(import.meta.dirname, '../scripts/fetch-model.sh'), { encoding: 'utf8' })
  return out.trim().split('\n').at(-1)!
}

const prompt = (round: number) =>
  `Task ${round}: write a Python function that returns the ${round + 2}th prime number, with a docstring.`

const path = modelPath()
const provider = new EmbeddedLlamaProvider({ modelPath: path, contextSize, threads })

const llama = await getLlama(llamaRuntimeOptions(false))
const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 })
const context = await model.createContext({ contextSize, threads })
const direct = new LlamaChat({ contextSequence: context.getSequence() })

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

async function viaDirect(round: number): Promise<Sample> {
  const history: ChatHistoryItem[] = [
    { type: 'user', text: prompt(round) },
    { type: 'model', response: [] },
  ]
  const t0 = performance.now()
  let first: number | undefined
  let tokens = 0
  const r = await direct.generateResponse(history, {
    maxTokens,
    temperature: 0,
    onToken: (t) => {
      first ??= performance.now()
      tokens += t.length
    },
  })
  const end = performance.now()
  // Same definition as the provider's: tokens after the first over the time after the first.
  return {
    ttftMs: first! - t0,
    tokensPerSecond: ((tokens - 1) * 1000) / (end - first!),
    tokens,
    text: r.response,
  }
}

// Warm-up loads the provider's model and touches both sides' weights once.
await viaProvider(-1)
await viaDirect(-1)

const mine: Sample[] = []
const theirs: Sample[] = []
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? [viaProvider, viaDirect] : [viaDirect, viaProvider]
  for (const side of order) (side === viaProvider ? mine : theirs).push(await side(round))
  const [a, b] = [mine.at(-1)!, theirs.at(-1)!]
  if (a.text !== b.text) throw new Error(`round ${round}: greedy outputs differ:\n${a.text}\n---\n${b.text}`)
  console.error(
    `round ${round}: provider ${a.tokensPerSecond.toFixed(1)} tok/s ttft ${a.ttftMs.toFixed(1)} ms | ` +
      `direct ${b.tokensPerSecond.toFixed(1)} tok/s ttft ${b.ttftMs.toFixed(1)} ms (${a.tokens} tokens)`,
  )
}
await provider.stop()
await context.dispose()
await model.dispose()

const med = (xs: Sample[], k: 'ttftMs' | 'tokensPerSecond') => median(xs.map((s) => s[k]))
const rate = { provider: med(mine, 'tokensPerSecond'), direct: med(theirs, 'tokensPerSecond') }
const ttft = { provider: med(mine, 'ttftMs'), direct: med(theirs, 'ttftMs') }
const slowdown = rate.direct / rate.provider
const ttftRatio = ttft.provider / ttft.direct
const list = (xs: Sample[], k: 'ttftMs' | 'tokensPerSecond') => xs.map((s) => s[k].toFixed(1)).join(', ')

const body = `
Run: \`node bench/inference.ts ${rounds} ${maxTokens}\` on ${machine()}.
Model: Gemma 3 270M Q4_K_M (\`scripts/fetch-model.sh\`), CPU only (prebuilt llama.cpp, \`gpu: false\`),
${threads} threads, context ${contextSize}, greedy, ${maxTokens} tokens per reply (${mine[0]!.tokens} generated), ${rounds} alternating rounds,
a new prompt each round. Direct = node-llama-cpp \`LlamaChat.generateResponse\` on its own context with the same settings;
the greedy replies of both sides were identical in every round.

| measure (median of ${rounds}) | provider | direct | ratio | goal |
|---|---|---|---|---|
| decode rate | ${rate.provider.toFixed(1)} tok/s | ${rate.direct.toFixed(1)} tok/s | ${slowdown.toFixed(3)} (direct / provider) | ≤ 1.05 |
| time to first token | ${ttft.provider.toFixed(1)} ms | ${ttft.direct.toFixed(1)} ms | ${ttftRatio.toFixed(3)} (provider / direct) | ≤ 1.05 |

All rounds, tok/s provider: ${list(mine, 'tokensPerSecond')}; direct: ${list(theirs, 'tokensPerSecond')}.
TTFT ms provider: ${list(mine, 'ttftMs')}; direct: ${list(theirs, 'ttftMs')}.
`
writeSection('Inference', body)
reportGoals('inference', [
  atMost('embedded provider decode rate against node-llama-cpp directly (slowdown)', slowdown, 1.05, (x) =>
    x.toFixed(3),
  ),
  atMost('embedded provider time to first token against node-llama-cpp directly', ttftRatio, 1.05, (x) =>
    x.toFixed(3),
  ),
])
console.log(body.trim())
