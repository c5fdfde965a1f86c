import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { connect, createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { type AgentProcess, REPO_ROOT, type StartOptions, startAgent, tempDataDir } from './harness.ts'

/** An agent in a namespace; `api()` reaches it through a forwarder, `nsApiPort` is its real port there. */
export type NsAgent = AgentProcess & { nsApiPort: number }

/**
 * A small internet in network namespaces, made and removed by a test (root only): namespaces
 * joined by veth pairs, with routing and NAT set up by `ip` and `iptables` inside them. Nothing
 * touches the host's own namespace beyond creating the namespaces.
 */
export class NetLab {
  readonly #prefix: string
  readonly #namespaces: string[] = []
  #links = 0
  readonly #forwarders: { proc: ChildProcess; server: Server }[] = []
  readonly #wans: ChildProcess[] = []

  constructor() {
    if (process.getuid?.() !== 0) {
      throw new Error('the network-namespace tests need root (ip netns, veth, iptables); run them as root')
    }
    this.#prefix = `ec${process.pid % 100000}`
  }

  /** Creates a namespace with its loopback up; returns its full name. */
  ns(name: string): string {
    const full = `${this.#prefix}-${name}`
    execFileSync('ip', ['netns', 'add', full])
    this.#namespaces.push(full)
    this.exec(full, 'ip link set lo up')
    return full
  }

  /** Runs a shell command inside a namespace and returns its output. */
  exec(ns: string, command: string): string {
    return execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', command], { encoding: 'utf8' })
  }

  /** A veth pair between two namespaces, each end with an address (CIDR); returns the interface names. */
  link(a: string, addrA: string, b: string, addrB: string): [string, string] {
    const n = this.#links++
    const ifA = `${this.#prefix}a${n}`.slice(-15)
    const ifB = `${this.#prefix}b${n}`.slice(-15)
    execFileSync('ip', ['link', 'add', ifA, 'netns', a, 'type', 'veth', 'peer', 'name', ifB, 'netns', b])
    this.exec(a, `ip addr add ${addrA} dev ${ifA} && ip link set ${ifA} up`)
    this.exec(b, `ip addr add ${addrB} dev ${ifB} && ip link set ${ifB} up`)
    return [ifA, ifB]
  }

  /**
   * Joins namespaces by a simulated WAN (scripts/e2e/wan-link.py): each gets `wan0` with its
   * address, and packets between them take `latencyMs` one way at `rateKbit` per direction.
   */
  async wan(sites: Record<string, string>, latencyMs: number, rateKbit = 20_000): Promise<void> {
    const args = Object.entries(sites).map(([ns, addr]) => `${ns}=${addr}`)
    const proc = spawn(
      'python3',
      [
        join(REPO_ROOT, 'scripts/e2e/wan-link.py'),
        '--latency-ms',
        String(latencyMs),
        '--rate-kbit',
        String(rateKbit),
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    this.#wans.push(proc)
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).once('line', () => resolve())
      proc.once('exit', (code) => reject(new Error(`wan-link exited (${code})`)))
    })
  }

  /**
   * A home network behind a NAT router on the `inet` namespace, as on the internet: the router
   * masquerades with random source ports (nothing for hole punching to predict) and silently drops
   * whatever arrives unasked. Returns the namespace of its one host, at 10.<lan>.0.2.
   */
  homeNetwork(inet: string, name: string, wan: [string, string], lan: number): string {
    const router = this.ns(`${name}r`)
    const host = this.ns(name)
    const [, wanIf] = this.link(inet, `${wan[0]}/30`, router, `${wan[1]}/30`)
    this.link(router, `10.${lan}.0.1/24`, host, `10.${lan}.0.2/24`)
    this.exec(host, `ip route add default via 10.${lan}.0.1`)
    this.exec(
      router,
      [
        'sysctl -qw net.ipv4.ip_forward=1',
        `ip route add default via ${wan[0]}`,
        `iptables -t nat -A POSTROUTING -o ${wanIf} -j MASQUERADE --random-fully`,
        `iptables -A FORWARD -i ${wanIf} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
        `iptables -A FORWARD -i ${wanIf} -j DROP`,
        `iptables -A INPUT -i ${wanIf} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
        `iptables -A INPUT -i ${wanIf} -j DROP`,
      ].join(' && '),
    )
    return host
  }

  /**
   * The internet of the NAT tests: a seed at 198.51.100.2 with a public address, and two homes
   * behind NAT routers (10.<lans[0]>.0.2 and 10.<lans[1]>.0.2) on an `inet` that drops packets
   * for private addresses. Checks that homes reach the seed and nothing reaches a home unasked.
   */
  natInternet(names: [string, string], lans: [number, number]): { seed: string; homes: [string, string] } {
    const inet = this.ns('inet')
    const seed = this.ns('seed')
    this.link(inet, '198.51.100.1/30', seed, '198.51.100.2/30')
    this.exec(inet, 'sysctl -qw net.ipv4.ip_forward=1 && ip route add blackhole 10.0.0.0/8')
    this.exec(seed, 'ip route add default via 198.51.100.1')
    const a = this.homeNetwork(inet, names[0], ['198.51.100.9', '198.51.100.10'], lans[0])
    const b = this.homeNetwork(inet, names[1], ['198.51.100.5', '198.51.100.6'], lans[1])
    for (const home of [a, b])
      if (!this.exec(home, 'ping -c1 -W2 198.51.100.2').includes('1 received'))
        throw new Error(`${home} does not reach the seed`)
    for (const target of ['198.51.100.10', `10.${lans[0]}.0.2`]) {
      let reached = true
      try {
        this.exec(b, `ping -c1 -W1 ${target}`)
      } catch {
        reached = false
      }
      if (reached) throw new Error(`${b} reached ${target} unasked: the NAT lets packets in`)
    }
    return { seed, homes: [a, b] }
  }

  /** The seed's TCP address on the lab's internet. */
  static seedAddr(seed: AgentProcess): string {
    const addr = seed.ready.p2pAddrs.find((a) => a.startsWith('/ip4/198.51.100.2/tcp/') && !a.includes('/ws'))
    if (addr === undefined)
      throw new Error(`the seed has no address on the lab's internet: ${seed.ready.p2pAddrs}`)
    return addr
  }

  /** The average ping round trip from a namespace to an address, in ms. */
  pingMs(ns: string, addr: string, count = 3): number {
    const out = this.exec(ns, `ping -c${count} -i0.2 -W2 ${addr}`)
    const avg = /= [\d.]+\/([\d.]+)\//.exec(out)?.[1]
    if (avg === undefined) throw new Error(`no round trip in: ${out}`)
    return Number(avg)
  }

  /** Starts an agent inside a namespace, its API reachable from the test through a forwarder. */
  async agent(ns: string, opts: StartOptions = {}): Promise<NsAgent> {
    const agent = (await startAgent({ ...opts, netns: ns })) as NsAgent
    const port = new URL(agent.apiUrl).port
    agent.nsApiPort = Number(port)
    const socketPath = join(tempDataDir('edgecoder-ns-'), 'api.sock')
    const proc = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        join(REPO_ROOT, 'tests/e2e/fixtures/unix-to-tcp.mjs'),
        socketPath,
        port,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).once('line', () => resolve())
      proc.once('exit', (code) => reject(new Error(`API forwarder in ${ns} exited (${code})`)))
    })
    const server = createServer((client) => {
      const upstream = connect(socketPath)
      client.pipe(upstream).pipe(client)
      const end = () => {
        client.destroy()
        upstream.destroy()
      }
      client.on('error', end)
      upstream.on('error', end)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    this.#forwarders.push({ proc, server })
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('forwarder has no port')
    // The harness's `api()` reads this: requests now go through the forwarder into the namespace.
    agent.ready.apiUrl = `http://127.0.0.1:${address.port}`
    agent.apiUrl = agent.ready.apiUrl
    // An API bound beyond loopback asks for its token: the test is its operator.
    const tokenFile = join(agent.dataDir, 'api-token')
    if (existsSync(tokenFile)) {
      const token = readFileSync(tokenFile, 'utf8').trim()
      const api = agent.api
      agent.api = (path, init = {}) => {
        const headers = new Headers(init.headers)
        headers.set('authorization', `Bearer ${token}`)
        return api(path, { ...init, headers })
      }
    }
    return agent
  }

  /** Stops the forwarders and deletes every namespace (their veths go with them). */
  close(): void {
    for (const w of this.#wans) w.kill('SIGTERM')
    for (const f of this.#forwarders) {
      f.proc.kill('SIGKILL')
      f.server.close()
    }
    for (const ns of this.#namespaces.reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns])
      } catch {
        // already gone
      }
    }
  }
}
