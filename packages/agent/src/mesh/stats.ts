import { ADVERT_TOPIC, type MeshStats } from '@edgecoder/protocol'
import type { AdvertTiming } from './advert-timing.ts'
import type { GossipCounters } from './gossip-counters.ts'
import type { MeshHost } from './host.ts'
import type { AdvertIntake } from './intake.ts'

/** Gossip traffic, advert verdicts and peer scores: what tells a healthy mesh from a storm or an attack. */
export function meshStats(
  host: MeshHost | undefined,
  c: GossipCounters,
  intake: AdvertIntake | undefined,
  since: Date,
  timing: AdvertTiming,
): MeshStats {
  const pubsub = host?.services.pubsub
  const scores: Record<string, number> = {}
  for (const peer of host?.getPeers() ?? []) scores[peer.toString()] = pubsub?.getScore(peer.toString()) ?? 0
  return {
    since: since.toISOString(),
    connections: host?.getConnections().length ?? 0,
    topicPeers: pubsub?.getSubscribers(ADVERT_TOPIC).length ?? 0,
    meshPeers: pubsub?.getMeshPeers(ADVERT_TOPIC).length ?? 0,
    gossip: {
      rpcSent: c.total('gossipsub_rpc_sent_count_total'),
      rpcReceived: c.total('gossipsub_rpc_recv_count_total'),
      bytesSent: c.total('gossipsub_rpc_sent_bytes_total'),
      bytesReceived: c.total('gossipsub_rpc_recv_bytes_total'),
      messagesFirstSeen: c.total('gossipsub_pre_validation_valid_total'),
      messagesDuplicate: c.total('gossipsub_pre_validation_duplicate_total'),
      published: c.total('gossipsub_msg_publish_count_total'),
      penalties: c.byLabel('gossipsub_scoring_penalties_total'),
      parts: {
        messagesSent: c.total('gossipsub_rpc_sent_message_total'),
        messagesReceived: c.total('gossipsub_rpc_recv_message_total'),
        ihaveSent: c.total('gossipsub_rpc_sent_ihave_total'),
        iwantSent: c.total('gossipsub_rpc_sent_iwant_total'),
        idontwantSent: c.total('gossipsub_rpc_sent_idontwant_total'),
        graftSent: c.total('gossipsub_rpc_sent_graft_total'),
        pruneSent: c.total('gossipsub_rpc_sent_prune_total'),
        publishedDataBytes: c.total('gossipsub_msg_publish_bytes_total'),
        publishedToPeers: c.total('gossipsub_msg_publish_peers_total'),
      },
    },
    adverts: {
      accepted: intake?.accepted ?? 0,
      ignored: intake?.ignored ?? 0,
      rejected: { ...(intake?.rejected ?? {}) },
    },
    scores,
    advertTiming: timing.snapshot(),
  }
}
