import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import { ApiError } from '../errors.ts'
import type { RouteModule } from '../server.ts'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
}

/** The desktop app's UI, served at `/ui` for nodes without a desktop (headless servers). */
export const uiRoutes =
  (distDir: string): RouteModule =>
  (app) => {
    const serve = async (rel: string) => {
      // normalize + prefix check: `..` or an absolute path can never leave the UI's folder.
      const path = normalize(join(distDir, rel || 'index.html'))
      if (!path.startsWith(distDir + sep) && path !== distDir)
        throw new ApiError(404, 'not_found', 'no such UI file')
      const st = await stat(path).catch(() => null)
      if (!st?.isFile()) {
        if (rel === '' || rel === 'index.html') {
          throw new ApiError(
            404,
            'ui_not_built',
            `the UI is not built here (${distDir}); build it with: npm --prefix desktop ci && npm --prefix desktop run build`,
          )
        }
        throw new ApiError(404, 'not_found', 'no such UI file')
      }
      return { body: await readFile(path), type: TYPES[extname(path)] ?? 'application/octet-stream' }
    }
    const headers = {
      'content-security-policy':
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    }
    app.get('/ui', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/'))
    app.get<{ Params: { '*': string } }>('/ui/*', { schema: { hide: true } }, async (req, reply) => {
      const f = await serve(req.params['*'])
      return reply.headers(headers).type(f.type).send(f.body)
    })
  }
