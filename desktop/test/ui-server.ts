import { createReadStream, existsSync, statSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import { extname, join, normalize } from 'node:path'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
}

/**
 * Serves the built UI at /ui/ and passes every other path to the agent, as a headless node does:
 * the page and the API share one origin, so the test needs no cross-origin exception.
 */
export async function serveUi(
  distDir: string,
  agentUrl: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const agent = new URL(agentUrl)
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    if (path === '/ui' || path.startsWith('/ui/')) {
      const rel = normalize(path.slice('/ui'.length) || '/').replace(/^(\.\.[/\\])+/, '')
      let file = join(distDir, rel)
      if (!existsSync(file) || statSync(file).isDirectory()) file = join(distDir, 'index.html')
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' })
      createReadStream(file).pipe(res)
      return
    }
    // Host stays as the browser sent it: the agent checks Origin against it for same-origin writes.
    const upstream = request(
      { host: agent.hostname, port: agent.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
        // An agent that dies mid-stream must drop the browser's connection too, as it would directly.
        up.on('close', () => {
          if (!up.complete) res.destroy()
        })
      },
    )
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code: 'agent_unreachable', message: err.message } }))
    })
    req.pipe(upstream)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const addr = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${addr.port}/ui/`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
