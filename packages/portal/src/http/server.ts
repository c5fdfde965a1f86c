import cookie from '@fastify/cookie'
import swagger from '@fastify/swagger'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
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
import { errorBody, PortalError } from './errors.ts'

export type PortalApp = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>
export type RouteModule = (app: PortalApp) => void

export interface ServerOptions {
  version: string
  bodyLimitBytes: number
  /** The portal's public origin: state changes from any other origin are refused. */
  origin: string
  logger: Logger
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** fastify with zod schemas, one error shape, an origin guard on state changes and OpenAPI. */
export async function buildServer(opts: ServerOptions, routes: RouteModule[]): Promise<PortalApp> {
  const app = Fastify({
    bodyLimit: opts.bodyLimitBytes,
    loggerInstance: opts.logger.child({ part: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: true,
    trustProxy: false,
  }).withTypeProvider<ZodTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  await app.register(cookie)
  await app.register(swagger, {
    openapi: { openapi: '3.1.0', info: { title: 'EdgeCoder portal API', version: opts.version } },
    transform: jsonSchemaTransform,
  })

  // CSRF, first wall: a state change must come from the portal's own pages (or from no browser
  // at all, like the CLI), and as JSON, which a cross-site form can't send without a preflight.
  // The second wall is the per-session token checked by routes that act on a session.
  app.addHook('onRequest', async (req) => {
    if (SAFE_METHODS.has(req.method)) return
    const origin = req.headers.origin
    if (origin !== undefined && origin !== opts.origin) {
      throw new PortalError(403, 'forbidden_origin', `state changes from ${origin} are refused`)
    }
    const site = req.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      throw new PortalError(403, 'forbidden_origin', `state changes from a ${site} page are refused`)
    }
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
    if (hasBody && req.headers['content-length'] !== '0') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
      if (type !== 'application/json') {
        throw new PortalError(415, 'unsupported_media_type', 'send the body as application/json')
      }
    }
  })
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('x-frame-options', 'DENY')
  })

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof PortalError) {
      if (err.retryAfterSec !== undefined) reply.header('retry-after', String(err.retryAfterSec))
      return reply.code(err.statusCode).send(errorBody(err.code, err.message, err.details))
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'body'
      const pathOf = (p: string | undefined) => `${where}${(p ?? '').replaceAll('/', '.')}`.replace(/\.$/, '')
      const first = err.validation[0]
      return reply.code(400).send(
        errorBody('invalid_request', `${pathOf(first?.instancePath)}: ${first?.message ?? 'invalid'}`, {
          issues: err.validation.map((v) => ({ path: pathOf(v.instancePath), message: v.message })),
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
    return reply
      .code(500)
      .send(errorBody('internal', 'the portal failed to handle this request; see its log'))
  })
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(errorBody('not_found', `no route ${req.method} ${req.url.split('?')[0]}`)),
  )

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }))
  for (const register of routes) register(app)
  return app
}
