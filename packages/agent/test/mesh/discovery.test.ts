import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { DiscoveryError, fetchCoordinators } from '../../src/mesh/index.ts'

let server: Server | undefined
afterEach(() => {
  server?.close()
  server = undefined
})

async function serve(status: number, body: string, delayMs = 0): Promise<string> {
  server = createServer((req, res) => {
    setTimeout(() => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(req.url === '/base/network/coordinators' ? body : '{}')
    }, delayMs)
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return `http://127.0.0.1:${port}/base`
}

describe('fetchCoordinators', () => {
  it('reads the coordinators a discovery URL lists', async () => {
    const coordinators = [{ peerId: '12D3KooWx', addrs: ['/ip4/127.0.0.1/tcp/4001'], region: null }]
    const url = await serve(200, JSON.stringify({ coordinators }))
    expect(await fetchCoordinators(url, AbortSignal.timeout(5000))).toEqual(coordinators)
  })

  it('fails with DiscoveryError on an error status, non-JSON or a wrong shape', async () => {
    for (const [status, body] of [
      [500, '{}'],
      [200, 'not json'],
      [200, '{"coordinators":[{"peerId":1}]}'],
    ] as const) {
      const url = await serve(status, body)
      await expect(fetchCoordinators(url, AbortSignal.timeout(5000))).rejects.toBeInstanceOf(DiscoveryError)
      server!.close()
    }
  })

  it('gives up when its signal aborts', async () => {
    const url = await serve(200, '{"coordinators":[]}', 2000)
    await expect(fetchCoordinators(url, AbortSignal.timeout(100))).rejects.toMatchObject({
      name: 'TimeoutError',
    })
  })
})
