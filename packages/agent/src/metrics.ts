import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** The agent's Prometheus metrics; every name starts with `edgecoder_`. */
export class NodeMetrics {
  readonly registry = new Registry()
  readonly httpRequests: Counter<'route' | 'method' | 'status'>
  readonly httpDuration: Histogram<'route' | 'method'>
  readonly peers: Gauge<'state'>
  readonly queueDepth: Gauge
  readonly tasksRunning: Gauge
  readonly tasksFinished: Counter<'kind' | 'status'>
  readonly creditsEarned: Counter<'kind'>
  readonly creditsSpent: Counter<'kind'>
  readonly creditBalance: Gauge

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'edgecoder_' })
    // prom-client names three gauges `*_total`, which Prometheus reserves for counters
    // (promtool's lint refuses them); the handle and request counts are in the others.
    for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total'])
      this.registry.removeSingleMetric(`edgecoder_nodejs_${name}`)
    const registers = [this.registry]
    this.httpRequests = new Counter({
      name: 'edgecoder_http_requests_total',
      help: 'Local API requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    })
    this.httpDuration = new Histogram({
      name: 'edgecoder_http_request_duration_seconds',
      help: 'Local API request duration',
      labelNames: ['route', 'method'],
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
      registers,
    })
    this.peers = new Gauge({
      name: 'edgecoder_peers',
      help: 'Peers in the peer table by state',
      labelNames: ['state'],
      registers,
    })
    this.queueDepth = new Gauge({
      name: 'edgecoder_queue_depth',
      help: 'Tasks waiting in the local queue',
      registers,
    })
    this.tasksRunning = new Gauge({
      name: 'edgecoder_tasks_running',
      help: 'Tasks running on this node',
      registers,
    })
    this.tasksFinished = new Counter({
      name: 'edgecoder_tasks_finished_total',
      help: 'Tasks finished on this node by kind and final status',
      labelNames: ['kind', 'status'],
      registers,
    })
    this.creditsEarned = new Counter({
      name: 'edgecoder_credits_earned_total',
      help: 'Credits received in settled pairs and grants, by what they paid for',
      labelNames: ['kind'],
      registers,
    })
    this.creditsSpent = new Counter({
      name: 'edgecoder_credits_spent_total',
      help: 'Credits paid in settled pairs, by what they paid for',
      labelNames: ['kind'],
      registers,
    })
    this.creditBalance = new Gauge({
      name: 'edgecoder_credits_balance',
      help: "This node's balance from its own chain",
      registers,
    })
  }
}
