import { statSync } from 'node:fs'
import { homedir } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { BootstrapAddr, decodeInvite, InviteError, MeshToken, Region, RuntimeMode } from '@edgecoder/protocol'
import { z } from 'zod'
import { joinDashValues } from './args.ts'
import { DEFAULT_MODEL_HUB } from './inference/index.ts'

/** A setting that could not be used: names it, so the operator knows what to fix. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

const Port = z.coerce.number().int().min(0).max(65535)

const AgentConfig = z.object({
  mode: RuntimeMode,
  dataDir: z.string().min(1),
  apiHost: z.string().min(1),
  apiPort: Port,
  p2pPort: Port,
  bootstrap: z.array(
    z
      .string()
      .regex(/^\/[a-z0-9]/, 'a bootstrap address is a multiaddr, e.g. /ip4/1.2.3.4/tcp/4001/p2p/12D3Koo...'),
  ),
  discoveryUrl: z.url().nullable(),
  mdns: z.boolean(),
  /** Relay for peers behind NAT: auto = when this node has a public address. */
  relayService: z.enum(['auto', 'on', 'off']),
  p2pHost: z.union([z.ipv4(), z.ipv6()]),
  announce: z.array(
    z.string().regex(/^\/[a-z0-9]/, 'an announce address is a multiaddr, e.g. /dns4/seed.example/tcp/4001'),
  ),
  /** Base advert heartbeat; it stretches in large meshes so each node's idle gossip stays flat. */
  advertIntervalMs: z.coerce
    .number()
    .int()
    .min(100)
    .max(30 * 60_000),
  /** A peer silent for this many of its heartbeats is evicted from the peer table. */
  evictAfterHeartbeats: z.coerce.number().int().min(2).max(100),
  parentPid: z.coerce.number().int().positive().nullable(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  /** Print the start-up phases' times once ready (startup-trace.ts). */
  startupTrace: z.boolean(),
  bodyLimitBytes: z.number().int().positive(),
  /** GGUF file of the local model; without one, code and chat tasks fail and run tasks still work. */
  modelPath: z.string().refine(isFile, 'no such file (give the path to a .gguf model)').nullable(),
  /** A GGUF file pulled into the models dir on first start (a seed node's model), checked by sha256. */
  modelUrl: z
    .url({ protocol: /^https?$/ })
    .refine(
      (u) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(fileName(u).replace(/\.gguf$/i, '')),
      'the URL must end in the model file name, e.g. https://host/models/coder-1.5b.gguf',
    )
    .nullable(),
  modelSha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'a sha256 is 64 hex digits')
    .nullable(),
  /** The model hub catalog names (`edgecoder models pull qwen2.5-coder:1.5b`) are fetched from. */
  modelHub: z.url({ protocol: /^https?$/ }),
  /** Which inference provider serves models: auto = Ollama when it answers, else embedded llama.cpp. */
  provider: z.enum(['auto', 'embedded', 'ollama', 'openai']),
  ollamaHost: z.string().min(1),
  openAiBaseUrl: z.url().nullable(),
  openAiApiKey: z.string().min(1).nullable(),
  /** CPU threads for embedded llama.cpp; default: the cores available. */
  llamaThreads: z.coerce.number().int().min(1).max(512).optional(),
  /** Tasks that may wait in the queue; one more is answered 429. */
  maxQueuedTasks: z.coerce.number().int().min(1).max(1_000_000),
  /** How often executors report on tasks this node sent them; three missed reports mean a stall. */
  taskHeartbeatMs: z.coerce.number().int().min(100).max(60_000),
  /** Public keys (base64url, raw 32 bytes) whose grant certificates this node honours. */
  grantKeys: z.array(
    z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a grant key is the base64url of a 32-byte Ed25519 public key'),
  ),
  /** How far below zero each member of a private mesh may go; an open mesh gives unknown identities none. */
  creditLine: z.coerce.number().int().min(0).max(1_000_000_000),
  /** The portal's public key (base64url of 32 bytes): peers' activation certificates are checked against it. */
  portalKey: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, 'a portal key is the base64url of a 32-byte Ed25519 public key')
    .nullable(),
  requireActivation: z.boolean(),
  portalUrl: z.url().nullable(),
  revocationPollMs: z.coerce
    .number()
    .int()
    .min(100)
    .max(24 * 3_600_000),
  /** This node's price for work it does for peers. */
  pricePerKTokens: z.coerce.number().int().min(0).max(1_000_000),
  pricePerCpuSecond: z.coerce.number().int().min(0).max(1_000_000),
  relayPricePerKTokens: z.coerce.number().int().min(0).max(1_000_000),
  relayPricePerCpuSecond: z.coerce.number().int().min(0).max(1_000_000),
  /** The most this node pays for one task or chat done by a peer; dearer quotes are refused. */
  maxCreditsPerTask: z.coerce.number().int().min(0).max(1_000_000_000),
  /** Decline submitters whose chain shows they could not pay the quote. */
  creditCheck: z.boolean(),
  /** Browser origins besides the app's that may use the API (exact, or with `*` wildcards). */
  allowedOrigins: z.array(
    z
      .string()
      .regex(
        /^(\*|[a-z][a-z0-9+.-]*:\/\/[^\s/]+)$/i,
        'an origin is scheme://host[:port], e.g. http://localhost:3000 or chrome-extension://*',
      ),
  ),
  /** Trust the UI's dev server origins (port 1420). */
  devOrigins: z.boolean(),
  /** How long the sandbox process stays warm after its last run; 0 keeps it warm for good. */
  sandboxIdleMs: z.coerce
    .number()
    .int()
    .min(0)
    .max(24 * 3600_000),
  /** Run peers' code even when the OS confinement of the sandbox is unavailable. */
  allowUnconfined: z.boolean(),
  /** Settings given explicitly at start; they override what the store remembers. */
  overrides: z.object({
    meshToken: MeshToken.nullable().optional(),
    region: Region.nullable().optional(),
    maxConcurrentTasks: z.coerce.number().int().min(1).max(256).optional(),
    provider: z.enum(['auto', 'embedded', 'ollama', 'openai']).optional(),
    /** From `--join`: the invite's entry addresses. */
    bootstrapPeers: z.array(BootstrapAddr).optional(),
  }),
})
export type AgentConfig = Readonly<z.infer<typeof AgentConfig>>

/** Flags of `edgecoder start`, each with the environment variable that also sets it (flags win). */
export const START_FLAGS = {
  mode: { type: 'string', env: 'EDGE_RUNTIME_MODE', help: 'all-in-one (default) | coordinator | worker' },
  'data-dir': {
    type: 'string',
    env: 'EDGECODER_DATA_DIR',
    help: 'where identity, store and token live (~/.edgecoder)',
  },
  'api-host': { type: 'string', env: 'EDGECODER_API_HOST', help: 'local API address (127.0.0.1)' },
  'api-port': { type: 'string', env: 'EDGECODER_API_PORT', help: 'local API port (4301; 0 = any free port)' },
  'p2p-port': {
    type: 'string',
    env: 'EDGECODER_P2P_PORT',
    help: 'libp2p TCP port (4001; 0 = any free port)',
  },
  'p2p-host': {
    type: 'string',
    env: 'EDGECODER_P2P_HOST',
    help: 'address libp2p listens on (0.0.0.0; WebSockets on the p2p port + 1)',
  },
  announce: {
    type: 'string',
    multiple: true,
    env: 'EDGECODER_ANNOUNCE',
    help: 'multiaddr to announce instead of the listen addresses (repeatable)',
  },
  'advert-interval-ms': {
    type: 'string',
    env: 'EDGECODER_ADVERT_INTERVAL_MS',
    help: 'advert heartbeat in a small mesh (10000); longer in large meshes',
  },
  'evict-after-heartbeats': {
    type: 'string',
    env: 'EDGECODER_EVICT_AFTER_HEARTBEATS',
    help: 'silent heartbeats before a peer is evicted (3)',
  },
  bootstrap: {
    type: 'string',
    multiple: true,
    env: 'EDGECODER_BOOTSTRAP',
    help: 'multiaddr of a peer to join through (repeatable; env: comma-separated)',
  },
  'discovery-url': {
    type: 'string',
    env: 'COORDINATOR_DISCOVERY_URL',
    help: 'URL serving GET /network/coordinators',
  },
  'no-mdns': { type: 'boolean', env: 'EDGECODER_NO_MDNS', help: 'do not look for peers on the LAN' },
  'relay-service': {
    type: 'string',
    env: 'EDGECODER_RELAY_SERVICE',
    help: 'relay for peers behind NAT: auto (when this node has a public address), on, off',
  },
  'mesh-token': {
    type: 'string',
    env: 'EDGECODER_MESH_TOKEN',
    help: 'shared secret of a private mesh (none = public mesh)',
  },
  join: {
    type: 'string',
    env: 'EDGECODER_JOIN',
    help: 'an invite (`edgecoder invite` on a member): join that private mesh, remembered',
  },
  region: { type: 'string', env: 'EDGECODER_REGION', help: 'region advertised to peers, e.g. eu-west' },
  'max-concurrent-tasks': {
    type: 'string',
    env: 'EDGECODER_MAX_CONCURRENT_TASKS',
    help: 'tasks run at once (default: 2)',
  },
  model: {
    type: 'string',
    env: 'EDGECODER_MODEL',
    help: 'path to a GGUF model for code and chat tasks (none: only run tasks)',
  },
  'model-url': {
    type: 'string',
    env: 'EDGECODER_MODEL_URL',
    help: 'http(s) URL of a GGUF model pulled into <data-dir>/models on first start (needs --model-sha256)',
  },
  'model-sha256': {
    type: 'string',
    env: 'EDGECODER_MODEL_SHA256',
    help: 'sha256 the --model-url download must have',
  },
  'model-hub': {
    type: 'string',
    env: 'EDGECODER_MODEL_HUB',
    help: 'model hub that catalog names are pulled from (default: https://huggingface.co)',
  },
  provider: {
    type: 'string',
    env: 'EDGECODER_PROVIDER',
    help: 'auto (default: Ollama when it answers, else embedded) | embedded | ollama | openai',
  },
  'ollama-host': { type: 'string', env: 'OLLAMA_HOST', help: 'Ollama server (http://127.0.0.1:11434)' },
  'openai-base-url': {
    type: 'string',
    env: 'EDGECODER_OPENAI_BASE_URL',
    help: 'OpenAI-compatible server for --provider openai, e.g. http://127.0.0.1:8080/v1',
  },
  'openai-api-key': { type: 'string', env: 'EDGECODER_OPENAI_API_KEY', help: 'its API key, if it needs one' },
  'llama-threads': {
    type: 'string',
    env: 'EDGECODER_LLAMA_THREADS',
    help: 'CPU threads for embedded llama.cpp (default: all cores)',
  },
  'max-queued-tasks': {
    type: 'string',
    env: 'EDGECODER_MAX_QUEUED_TASKS',
    help: 'tasks that may wait; beyond it submissions get 429 (default: 1000)',
  },
  'task-heartbeat-ms': {
    type: 'string',
    env: 'EDGECODER_TASK_HEARTBEAT_MS',
    help: 'heartbeat asked of executors running this node’s tasks; 3 missed = stalled, rerun elsewhere (2000)',
  },
  'grant-key': {
    type: 'string',
    multiple: true,
    env: 'EDGECODER_GRANT_KEY',
    help: 'public key (base64url, 32 bytes) of a grant issuer, e.g. the portal (repeatable)',
  },
  'portal-key': {
    type: 'string',
    env: 'EDGECODER_PORTAL_KEY',
    help: "the portal's public key (base64url): peers' activation certificates are checked against it",
  },
  'require-activation': {
    type: 'boolean',
    env: 'EDGECODER_REQUIRE_ACTIVATION',
    help: 'refuse adverts of peers without a valid activation certificate (needs --portal-key)',
  },
  'portal-url': {
    type: 'string',
    env: 'EDGECODER_PORTAL_URL',
    help: 'the portal, for revocations when this node is not enrolled (else the one it enrolled with)',
  },
  'revocation-poll-ms': {
    type: 'string',
    env: 'EDGECODER_REVOCATION_POLL_MS',
    help: "how often the portal's revocation list is fetched (60000)",
  },
  'credit-line': {
    type: 'string',
    env: 'EDGECODER_CREDIT_LINE',
    help: 'credits each member of a private mesh may go below zero (1000; open mesh: 0)',
  },
  'price-per-ktokens': {
    type: 'string',
    env: 'EDGECODER_PRICE_PER_KTOKENS',
    help: 'credits charged per 1,000 tokens generated for a peer (10)',
  },
  'price-per-cpu-second': {
    type: 'string',
    env: 'EDGECODER_PRICE_PER_CPU_SECOND',
    help: 'credits charged per CPU-second of sandbox for a peer (1)',
  },
  'relay-price-per-ktokens': {
    type: 'string',
    env: 'EDGECODER_RELAY_PRICE_PER_KTOKENS',
    help: 'a relay’s fee per 1,000 tokens of the work it carries between two peers (1)',
  },
  'relay-price-per-cpu-second': {
    type: 'string',
    env: 'EDGECODER_RELAY_PRICE_PER_CPU_SECOND',
    help: 'a relay’s fee per sandbox CPU-second of the work it carries (0)',
  },
  'max-credits-per-task': {
    type: 'string',
    env: 'EDGECODER_MAX_CREDITS_PER_TASK',
    help: 'most credits paid for one task or chat run by a peer; dearer quotes are refused (1000)',
  },
  'credit-check': {
    type: 'boolean',
    env: 'EDGECODER_CREDIT_CHECK',
    help: 'decline peers whose chain shows they cannot pay the quote',
  },
  'allowed-origins': {
    type: 'string',
    multiple: true,
    env: 'EDGECODER_ALLOWED_ORIGINS',
    help: 'browser origin that may use the API besides the app, `*` as wildcard (repeatable; env: comma-separated)',
  },
  'dev-origins': {
    type: 'boolean',
    env: 'EDGECODER_DEV_ORIGINS',
    help: 'trust the UI dev server (http://localhost:1420, http://127.0.0.1:1420)',
  },
  'sandbox-idle-ms': {
    type: 'string',
    env: 'EDGECODER_SANDBOX_IDLE_MS',
    help: 'the sandbox process exits after this long without a run (300000; 0 = keep it warm)',
  },
  'allow-unconfined-sandbox': {
    type: 'boolean',
    env: 'EDGECODER_ALLOW_UNCONFINED_SANDBOX',
    help: 'run peers’ code even where the OS confinement of the sandbox is unavailable',
  },
  'parent-pid': {
    type: 'string',
    env: 'EDGECODER_PARENT_PID',
    help: 'exit when this process dies (used by the desktop app)',
  },
  'log-level': {
    type: 'string',
    env: 'EDGECODER_LOG_LEVEL',
    help: 'info (default), debug, warn, error, silent',
  },
  'startup-trace': {
    type: 'boolean',
    env: 'EDGECODER_STARTUP_TRACE',
    help: 'once ready, print the time each start-up phase took on stderr (one JSON line)',
  },
} as const

type FlagName = keyof typeof START_FLAGS

/** Parses flags and environment once into a frozen, validated config. Throws ConfigError naming the bad setting. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: joinDashValues(argv, START_FLAGS),
      options: Object.fromEntries(
        Object.entries(START_FLAGS).map(([k, v]) => [k, { type: v.type, multiple: 'multiple' in v }]),
      ),
      strict: true,
      allowPositionals: false,
    })
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const flag = (name: FlagName): string | boolean | string[] | undefined => {
    const given = parsed.values[name]
    if (given !== undefined) return given as string | boolean | string[]
    const raw = env[START_FLAGS[name].env]
    if (raw === undefined || raw === '') return undefined
    const spec = START_FLAGS[name]
    if (spec.type === 'boolean') return raw === '1' || raw.toLowerCase() === 'true'
    if ('multiple' in spec)
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    return raw
  }

  const model = flag('model') as string | undefined
  const invite = readInvite(flag('join') as string | undefined, flag('mesh-token') as string | undefined)
  const candidate = {
    mode: flag('mode') ?? 'all-in-one',
    dataDir: resolve(expandHome((flag('data-dir') as string | undefined) ?? '~/.edgecoder')),
    apiHost: flag('api-host') ?? '127.0.0.1',
    apiPort: flag('api-port') ?? 4301,
    p2pPort: flag('p2p-port') ?? 4001,
    bootstrap: flag('bootstrap') ?? [],
    discoveryUrl: flag('discovery-url') ?? null,
    mdns: !(flag('no-mdns') ?? false),
    relayService: flag('relay-service') ?? 'auto',
    p2pHost: flag('p2p-host') ?? '0.0.0.0',
    announce: flag('announce') ?? [],
    advertIntervalMs: flag('advert-interval-ms') ?? 10_000,
    evictAfterHeartbeats: flag('evict-after-heartbeats') ?? 3,
    parentPid: flag('parent-pid') ?? null,
    logLevel: flag('log-level') ?? 'info',
    startupTrace: flag('startup-trace') ?? false,
    bodyLimitBytes: 1024 * 1024,
    modelPath: model === undefined ? null : resolve(expandHome(model)),
    modelUrl: flag('model-url') ?? null,
    modelSha256: flag('model-sha256') ?? null,
    modelHub: flag('model-hub') ?? DEFAULT_MODEL_HUB,
    maxQueuedTasks: flag('max-queued-tasks') ?? 1000,
    taskHeartbeatMs: flag('task-heartbeat-ms') ?? 2000,
    provider: flag('provider') ?? 'auto',
    ollamaHost: flag('ollama-host') ?? 'http://127.0.0.1:11434',
    openAiBaseUrl: flag('openai-base-url') ?? null,
    openAiApiKey: flag('openai-api-key') ?? null,
    llamaThreads: flag('llama-threads'),
    grantKeys: flag('grant-key') ?? [],
    creditLine: flag('credit-line') ?? 1000,
    portalKey: flag('portal-key') ?? null,
    requireActivation: flag('require-activation') ?? false,
    portalUrl: flag('portal-url') ?? null,
    revocationPollMs: flag('revocation-poll-ms') ?? 60_000,
    pricePerKTokens: flag('price-per-ktokens') ?? 10,
    pricePerCpuSecond: flag('price-per-cpu-second') ?? 1,
    relayPricePerKTokens: flag('relay-price-per-ktokens') ?? 1,
    relayPricePerCpuSecond: flag('relay-price-per-cpu-second') ?? 0,
    maxCreditsPerTask: flag('max-credits-per-task') ?? 1000,
    creditCheck: flag('credit-check') ?? false,
    allowedOrigins: flag('allowed-origins') ?? [],
    devOrigins: flag('dev-origins') ?? false,
    sandboxIdleMs: flag('sandbox-idle-ms') ?? 300_000,
    allowUnconfined: flag('allow-unconfined-sandbox') ?? false,
    overrides: {
      meshToken: invite?.token ?? flag('mesh-token'),
      region: flag('region'),
      maxConcurrentTasks: flag('max-concurrent-tasks'),
      bootstrapPeers: invite?.addrs,
      provider: flag('provider'),
    },
  }
  const result = AgentConfig.safeParse(candidate)
  if (result.success && (result.data.modelUrl === null) !== (result.data.modelSha256 === null)) {
    throw new ConfigError(
      'invalid setting --model-url (EDGECODER_MODEL_URL): it needs --model-sha256 (EDGECODER_MODEL_SHA256), and the other way round',
    )
  }
  if (!result.success) {
    const issue = result.error.issues[0]!
    const path = issue.path.filter((p) => p !== 'overrides').join('.')
    const flagName = FIELD_TO_FLAG[path] ?? path
    const envName = START_FLAGS[flagName as FlagName]?.env
    throw new ConfigError(`invalid setting --${flagName}${envName ? ` (${envName})` : ''}: ${issue.message}`)
  }
  if (result.data.requireActivation && result.data.portalKey === null) {
    throw new ConfigError(
      'invalid setting --require-activation (EDGECODER_REQUIRE_ACTIVATION): it needs --portal-key',
    )
  }
  return deepFreeze(result.data)
}

const FIELD_TO_FLAG: Record<string, string> = {
  mode: 'mode',
  dataDir: 'data-dir',
  apiHost: 'api-host',
  apiPort: 'api-port',
  p2pPort: 'p2p-port',
  p2pHost: 'p2p-host',
  advertIntervalMs: 'advert-interval-ms',
  evictAfterHeartbeats: 'evict-after-heartbeats',
  discoveryUrl: 'discovery-url',
  parentPid: 'parent-pid',
  logLevel: 'log-level',
  meshToken: 'mesh-token',
  region: 'region',
  maxConcurrentTasks: 'max-concurrent-tasks',
  modelPath: 'model',
  modelUrl: 'model-url',
  modelSha256: 'model-sha256',
  modelHub: 'model-hub',
  maxQueuedTasks: 'max-queued-tasks',
  taskHeartbeatMs: 'task-heartbeat-ms',
  provider: 'provider',
  ollamaHost: 'ollama-host',
  openAiBaseUrl: 'openai-base-url',
  openAiApiKey: 'openai-api-key',
  llamaThreads: 'llama-threads',
  creditLine: 'credit-line',
  portalKey: 'portal-key',
  portalUrl: 'portal-url',
  revocationPollMs: 'revocation-poll-ms',
  pricePerKTokens: 'price-per-ktokens',
  pricePerCpuSecond: 'price-per-cpu-second',
  relayPricePerKTokens: 'relay-price-per-ktokens',
  relayPricePerCpuSecond: 'relay-price-per-cpu-second',
  maxCreditsPerTask: 'max-credits-per-task',
  creditCheck: 'credit-check',
  devOrigins: 'dev-origins',
  sandboxIdleMs: 'sandbox-idle-ms',
  allowUnconfined: 'allow-unconfined-sandbox',
}
for (let i = 0; i < 64; i++) {
  FIELD_TO_FLAG[`bootstrap.${i}`] = 'bootstrap'
  FIELD_TO_FLAG[`announce.${i}`] = 'announce'
  FIELD_TO_FLAG[`grantKeys.${i}`] = 'grant-key'
  FIELD_TO_FLAG[`allowedOrigins.${i}`] = 'allowed-origins'
}

/** `--join`: an invite's token and addresses; it must agree with `--mesh-token` when both are given. */
function readInvite(line: string | undefined, token: string | undefined) {
  if (line === undefined) return undefined
  try {
    const invite = decodeInvite(line)
    if (token !== undefined && token !== invite.token)
      throw new ConfigError(
        'invalid setting --join (EDGECODER_JOIN): the invite is for another mesh than --mesh-token; give one of them',
      )
    return invite
  } catch (err) {
    if (err instanceof InviteError)
      throw new ConfigError(`invalid setting --join (EDGECODER_JOIN): ${err.message}`)
    throw err
  }
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

/** The last path segment of a URL, decoded ('' when it has none or can't be decoded). */
function fileName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '')
  } catch {
    return ''
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile()
  } catch {
    return false
  }
}

/** True when the API host only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}
