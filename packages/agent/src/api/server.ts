import swagger from '@fastify/swagger'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from 'fastify'
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import type { NodeMetrics } from '../metrics.ts'
import { ApiError } from './errors.ts'
import { type GuardOptions, guardRequest } from './guard.ts'

export type ZodApp = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  import('fastify').FastifyBaseLogger,
  ZodTypeProvider
>

/** A group of routes: one file per area registers itself through this. */
export type RouteModule = (app: ZodApp) => void

export interface ApiServerOptions {
  version: string
  bodyLimitBytes: number
  guard: GuardOptions
  logger: Logger
  metrics: NodeMetrics
}

/** Builds the local API: schemas, one error shape, guard, metrics per route, OpenAPI. */
export async function buildApi(opts: ApiServerOptions, routes: RouteModule[]): Promise<ZodApp> {
  const app = Fastify({
    bodyLimit: opts.bodyLimitBytes,
    loggerInstance: opts.logger.child({ part: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: true,
    // zod validates and serializes: given here, fastify never loads its default compilers
    // (ajv and fast-json-stringify), a cost at every start for code that never runs.
    // (fastify types these factories as ajv's; at run time any compiler will do.)
    schemaController: {
      compilersFactory: {
        buildValidator: () => validatorCompiler,
        buildSerializer: () => serializerCompiler,
      },
    } as unknown as FastifyServerOptions['schemaController'],
  }).withTypeProvider<ZodTypeProvider>()

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'EdgeCoder agent API', version: opts.version },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      // On loopback no token is asked for; bound beyond it, every route but liveness needs the bearer.
      security: [{}, { bearer: [] }],
      servers: [{ url: 'http://127.0.0.1:4301', description: 'the default local API address' }],
    },
    // Every operation gets an id from its method and path, so generated clients have names.
    transform: (input) => {
      const out = jsonSchemaTransform(input)
      const method = [input.route.method].flat()[0]!.toLowerCase()
      return { ...out, schema: { operationId: operationIdOf(method, input.url), ...out.schema } }
    },
  })

  const known: { method: string; pattern: RegExp }[] = []
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method]
    const pattern = new RegExp(`^${r.url.replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*')}/?$`)
    for (const m of methods) known.push({ method: m, pattern })
  })

  // The desktop app's webview is another origin: it may read responses (and open /events) only
  // when told so; its state changes (PUT, POST, DELETE) need a preflight answer first.
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin
    if (origin === undefined || !opts.guard.allowedOrigins.has(origin)) return
    reply.raw.setHeader('access-control-allow-origin', origin)
    reply.raw.setHeader('vary', 'origin')
    if (req.method === 'OPTIONS') {
      reply.raw.setHeader('access-control-allow-methods', 'GET, PUT, POST, DELETE')
      reply.raw.setHeader('access-control-allow-headers', 'content-type, authorization, last-event-id')
      reply.raw.setHeader('access-control-max-age', '600')
      return reply.code(204).send()
    }
  })
  app.addHook('onRequest', async (req) => guardRequest(req, opts.guard))
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched'
    opts.metrics.httpRequests.inc({ route, method: req.method, status: reply.statusCode })
    opts.metrics.httpDuration.observe({ route, method: req.method }, reply.elapsedTime / 1000)
  })

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof ApiError) {
      return reply.code(err.statusCode).send(errorBody(err.code, err.message, err.details))
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const first = err.validation[0]
      const where = err.validationContext ?? 'body'
      const pathOf = (p: string | undefined) => `${where}${(p ?? '').replaceAll('/', '.')}`.replace(/\.$/, '')
      const field = pathOf(first?.instancePath)
      return reply.code(400).send(
        errorBody('invalid_request', `${field}: ${first?.message ?? 'invalid'}`, {
          issues: err.validation.map((v) => ({
            path: pathOf(v.instancePath),
            message: v.message,
          })),
        }),
      )
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply
        .code(413)
        .send(errorBody('payload_too_large', `the body exceeds ${opts.bodyLimitBytes} bytes`))
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(415).send(errorBody('unsupported_media_type', 'send the body as application/json'))
    }
    const status = err.statusCode ?? 500
    if (status >= 400 && status < 500) {
      const code = err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'empty_body' : 'invalid_request'
      return reply.code(status).send(errorBody(code, err.message))
    }
    req.log.error({ err }, 'request failed')
    return reply.code(500).send(errorBody('internal', 'the agent failed to handle this request; see its log'))
  })

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!
    const allowed = [...new Set(known.filter((k) => k.pattern.test(path)).map((k) => k.method))]
    if (allowed.length > 0) {
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send(
          errorBody(
            'method_not_allowed',
            `${req.method} is not allowed on ${path}; use ${allowed.join(', ')}`,
          ),
        )
    }
    return reply.code(404).send(errorBody('not_found', `no route ${req.method} ${path}`))
  })

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  for (const register of routes) register(app)
  return app
}

/** `post` + `/v1/chat/completions` -> `postV1ChatCompletions`; `:id` and `*` become `ById`, `All`. */
export function operationIdOf(method: string, url: string): string {
  const words = url
    .split('/')
    .filter(Boolean)
    .map((part) => (part.startsWith(':') ? `by-${part.slice(1)}` : part === '*' ? 'all' : part))
    .flatMap((part) => part.split(/[^A-Za-z0-9]+/))
    .filter(Boolean)
  return method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('') || method
}

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } }
}
