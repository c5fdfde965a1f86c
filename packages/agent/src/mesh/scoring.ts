import { ADVERT_TOPIC } from '@edgecoder/protocol'
import {
  createPeerScoreParams,
  createPeerScoreThresholds,
  type PeerScoreParams,
  type PeerScoreThresholds,
} from '@libp2p/gossipsub/score'

/**
 * Gossipsub's topic scoring is empty by default: nothing would punish a peer that sends junk.
 * The advert topic is low-rate (one advert per node per heartbeat), which shapes these choices.
 */
export const ADVERT_TOPIC_SCORE = {
  topicWeight: 1,
  // P1: up to +10 for an hour in the mesh, so long-standing peers outrank fresh ones.
  timeInMeshWeight: 10 / 3600,
  timeInMeshQuantum: 1000,
  timeInMeshCap: 3600,
  // P2: a small reward for being first with a valid advert.
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesDecay: 0.9,
  firstMessageDeliveriesCap: 10,
  // P3/P3b off: at a few adverts per minute no delivery quota is fair to ask of a mesh peer.
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 10,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 60_000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  // P4: one invalid advert costs -100, below the graylist threshold, so the sender is ignored for
  // a while; the penalty grows with the square of the count, which halves in about a minute.
  invalidMessageDeliveriesWeight: -100,
  invalidMessageDeliveriesDecay: 0.99,
}

/** What the application adds to the score of a peer it refuses: far below the graylist threshold. */
export const REFUSED_PEER_SCORE = -1000

/**
 * Peer score parameters for the mesh; `colocationWhitelist` spares IPs many honest nodes share,
 * `appScore` is the application's verdict on a peer (P5), e.g. for one that forked its chain.
 */
export function meshScoreParams(
  colocationWhitelist: string[] = [],
  appScore: (peerId: string) => number = () => 0,
): Partial<PeerScoreParams> {
  return createPeerScoreParams({
    appSpecificScore: appScore,
    appSpecificWeight: 1,
    topics: { [ADVERT_TOPIC]: ADVERT_TOPIC_SCORE },
    topicScoreCap: 20,
    // Many nodes behind one NAT (an office, a lab) are normal; a sybil farm on one IP is not.
    IPColocationFactorThreshold: 10,
    IPColocationFactorWeight: -5,
    IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1', ...colocationWhitelist]),
    behaviourPenaltyWeight: -10,
    behaviourPenaltyDecay: 0.9,
    decayInterval: 1000,
    decayToZero: 0.01,
    retainScore: 3600_000,
  })
}

export function meshScoreThresholds(): Partial<PeerScoreThresholds> {
  return createPeerScoreThresholds({
    gossipThreshold: -10,
    publishThreshold: -50,
    graylistThreshold: -80,
    acceptPXThreshold: 10,
    opportunisticGraftThreshold: 5,
  })
}
