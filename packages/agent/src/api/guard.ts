import { timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { ApiError } from './errors.ts'

/** Origins of the packaged desktop app: Tauri's webview on macOS/Linux, then on Windows. */
export const APP_ORIGINS = ['tauri://localhost', 'http://tauri.localhost', 'https://tauri.localhost']

/**
 * The UI's dev server (`npm run dev --prefix desktop`). Any page served on that port would get
 * the full API, so these are trusted only when the operator starts the agent with `--dev-origins`.
 */
export const DEV_ORIGINS = ['http://localhost:1420', 'http://127.0.0.1:1420']

/**
 * Which browser origins may use the API: exact origins, or patterns where `*` stands for any
 * run of characters (`http://localhost:*`, `chrome-extension://*`), as an operator lists them.
 */
export class OriginPolicy {
  readonly #exact = new Set<string>()
  readonly #patterns: RegExp[] = []

  constructor(origins: Iterable<string>) {
    for (const origin of origins) {
      if (!origin.includes('*')) this.#exact.add(origin)
      else this.#patterns.push(new RegExp(`^${origin.split('*').map(escapeRegExp).join('.*')}$`))
    }
  }

  has(origin: string): boolean {
    return this.#exact.has(origin) || this.#patterns.some((p) => p.test(origin))
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

export interface GuardOptions {
  /** Null when the API is on loopback: no token is asked for. */
  token: string | null
  /**
   * True when the API listens on loopback only: then it answers only requests addressed to a
   * loopback name, so a web page can't reach it by rebinding its own DNS name to 127.0.0.1.
   */
  loopbackOnly: boolean
  allowedOrigins: OriginPolicy
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Checks every request before routing: the Host header (a rebinding page can't reach a loopback
 * API through its own name), the Origin (only the app and same-origin pages), the bearer token
 * when bound beyond loopback, and JSON on state changes (a cross-site form can't send JSON
 * without a preflight, which the Origin check refuses).
 */
export function guardRequest(req: FastifyRequest, opts: GuardOptions): void {
  const host = req.headers.host ?? ''
  if (opts.loopbackOnly && !isLoopbackName(host)) {
    throw new ApiError(403, 'forbidden_host', `requests for host "${host}" are not served here`)
  }
  const origin = req.headers.origin
  if (origin !== undefined && !opts.allowedOrigins.has(origin) && origin !== `http://${host}`) {
    throw new ApiError(403, 'forbidden_origin', `cross-origin requests from ${origin} are refused`)
  }
  if (opts.token !== null && req.method !== 'OPTIONS' && !isPublicPath(req.url)) {
    const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim() ?? ''
    if (!tokensEqual(given, opts.token)) {
      throw new ApiError(401, 'unauthorized', 'this API needs the bearer token from <data-dir>/api-token')
    }
  }
  if (!SAFE_METHODS.has(req.method) && req.headers['content-length'] !== '0' && hasBody(req)) {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    // Ollama's and OpenAI's docs send bodies with `curl -d` (form-encoded). A browser always sends
    // an Origin with such a request, so without one it came from a tool: the IDE routes take it as JSON.
    if (type !== 'application/json' && !(origin === undefined && isIdePath(req.url))) {
      throw new ApiError(415, 'unsupported_media_type', 'send the body as application/json')
    }
  }
}

/** The Ollama and OpenAI dialects, which tools call without a content type. */
function isIdePath(url: string): boolean {
  return url.startsWith('/api/') || url.startsWith('/v1/')
}

/**
 * Open without the token: liveness and readiness (a supervisor or load balancer probes them),
 * metrics (a scraper sends no token; counters only), and the coordinator list, which is public
 * by design (`--discovery-url` of other nodes reads it).
 */
const PUBLIC_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/network/coordinators'])

function isPublicPath(url: string): boolean {
  return PUBLIC_PATHS.has(url.split('?')[0] ?? '')
}

function hasBody(req: FastifyRequest): boolean {
  return req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
}

function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** `localhost`, `127.x.x.x` or `[::1]`, with or without a port. */
export function isLoopbackName(hostHeader: string): boolean {
  const name = hostHeader.toLowerCase().replace(/:\d+$/, '')
  return name === 'localhost' || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name)
}
