import type { FastifyInstance } from 'fastify'

/**
 * Within the IDE routes, a body of any content type (curl's form encoding, none at all) is read
 * as JSON, as Ollama and OpenAI do. The guard lets such bodies through only without an Origin,
 * so browsers on other origins are still refused.
 */
export function acceptAnyJsonBody(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body)
    if (text.trim() === '') return done(null, undefined)
    try {
      done(null, JSON.parse(text))
    } catch (err) {
      const e = err as Error & { statusCode?: number }
      e.statusCode = 400
      done(e, undefined)
    }
  })
}

/**
 * Route options that put a body schema in the OpenAPI document without validating against it
 * before the handler: the handler validates and answers in its own dialect's error shape.
 */
export const documentedBody = {
  validatorCompiler: () => (value: unknown) => ({ value }),
}
