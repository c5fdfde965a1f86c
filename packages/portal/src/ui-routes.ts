import { existsSync, readFileSync } from 'node:fs'
import { extname, join, normalize } from 'node:path'
import type { PortalApp } from './http/index.ts'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
}

// The UI uses only its own scripts and styles, and talks only to this origin.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/** Serves the built web UI (vite output) at `/`; its pages route in the fragment, so one index serves all. */
export function uiRoutes(dist: string) {
  return (app: PortalApp) => {
    const send = (file: string, reply: import('fastify').FastifyReply) => {
      if (!existsSync(file)) {
        return reply
          .code(503)
          .type('text/plain')
          .send('the portal UI is not built: npm run build:ui -w packages/portal')
      }
      return reply
        .header('content-security-policy', CSP)
        .header('cache-control', file.endsWith('index.html') ? 'no-cache' : 'public, max-age=3600')
        .type(TYPES[extname(file)] ?? 'application/octet-stream')
        .send(readFileSync(file))
    }
    app.get('/', { schema: { hide: true } }, async (_req, reply) => send(join(dist, 'index.html'), reply))
    app.get('/assets/*', { schema: { hide: true } }, async (req, reply) => {
      const rel = normalize((req.params as { '*': string })['*']).replace(/^(\.\.(\/|$))+/, '')
      const file = join(dist, 'assets', rel)
      if (!file.startsWith(join(dist, 'assets'))) return reply.code(404).send()
      return send(file, reply)
    })
  }
}
