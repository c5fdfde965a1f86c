import type { MeshStats } from '@edgecoder/protocol'
import { Counter, type Registry } from 'prom-client'

/**
 * Gossip traffic as Prometheus counters, read from the mesh's own totals at each scrape: messages
 * (first seen, duplicate, published), RPCs and bytes each way, and adverts by outcome.
 */
export function registerGossipMetrics(registry: Registry, stats: () => MeshStats): void {
  const registers = [registry]
  // Each counter is reset to the mesh's running total when scraped: the mesh keeps the count.
  const mirrored = <L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    values: (s: MeshStats) => [Partial<Record<L, string>>, number][],
  ) =>
    new Counter<L>({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset()
        for (const [labels, n] of values(stats())) this.inc(labels, n)
      },
    })
  mirrored('edgecoder_gossip_messages_total', 'Gossip messages by kind', ['kind'], (s) => [
    [{ kind: 'first_seen' }, s.gossip.messagesFirstSeen],
    [{ kind: 'duplicate' }, s.gossip.messagesDuplicate],
    [{ kind: 'published' }, s.gossip.published],
  ])
  mirrored('edgecoder_gossip_rpcs_total', 'Gossip RPCs by direction', ['direction'], (s) => [
    [{ direction: 'sent' }, s.gossip.rpcSent],
    [{ direction: 'received' }, s.gossip.rpcReceived],
  ])
  mirrored('edgecoder_gossip_bytes_total', 'Gossip bytes by direction', ['direction'], (s) => [
    [{ direction: 'sent' }, s.gossip.bytesSent],
    [{ direction: 'received' }, s.gossip.bytesReceived],
  ])
  mirrored('edgecoder_adverts_total', 'Peer adverts received, by outcome', ['outcome'], (s) => [
    [{ outcome: 'accepted' }, s.adverts.accepted],
    [{ outcome: 'ignored' }, s.adverts.ignored],
    [{ outcome: 'rejected' }, Object.values(s.adverts.rejected).reduce((a, b) => a + b, 0)],
  ])
}
