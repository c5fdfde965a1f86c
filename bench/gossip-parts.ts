/**
 * What idle gossip is made of, per node: gossipsub's own counters, which each agent reports in
 * `/mesh/stats` (`gossip.parts`), read before and after the idle window. The bytes come as one
 * total per direction; this splits them into whole messages (counted × their mean size on the
 * wire) and the rest, which is control (IHAVE, IWANT, IDONTWANT, GRAFT, PRUNE) and RPC framing.
 */
import type { MeshStats } from '@edgecoder/protocol'
import { median } from './results.ts'

/**
 * A signed message's fields besides its data, as gossipsub encodes them: the author's peer id
 * (38 B for Ed25519), the sequence number, the topic, the 64-byte signature and the field tags.
 */
const MESSAGE_OVERHEAD_B = 140

type Parts = NonNullable<MeshStats['gossip']['parts']>

export interface GossipParts {
  /** Per node per minute. */
  messagesSent: number
  messagesReceived: number
  messageBytes: number
  otherBytes: number
  ihaveSent: number
  iwantSent: number
  idontwantSent: number
  graftPruneSent: number
  /** Mean data of a message, bytes (from what the nodes published). */
  meanDataB: number
}

/** Medians over the nodes, per minute of the window. */
export function gossipParts(before: MeshStats[], after: MeshStats[], seconds: number): GossipParts {
  const partsOf = (m: MeshStats): Parts => {
    if (m.gossip.parts === undefined) throw new Error('this agent reports no gossip.parts in /mesh/stats')
    return m.gossip.parts
  }
  const d = (get: (p: Parts) => number) =>
    after.map((a, i) => ((get(partsOf(a)) - get(partsOf(before[i]!))) * 60) / seconds)
  const sum = (get: (p: Parts) => number) =>
    after.reduce((s, a, i) => s + get(partsOf(a)) - get(partsOf(before[i]!)), 0)
  const meanDataB =
    sum((p) => p.publishedDataBytes) /
    Math.max(
      1,
      sum((p) => p.publishedToPeers),
    )
  const sent = d((p) => p.messagesSent)
  const received = d((p) => p.messagesReceived)
  const bytes = after.map(
    (a, i) =>
      ((a.gossip.bytesSent +
        a.gossip.bytesReceived -
        before[i]!.gossip.bytesSent -
        before[i]!.gossip.bytesReceived) *
        60) /
      seconds,
  )
  const messageBytes = sent.map((s, i) => (s + received[i]!) * (meanDataB + MESSAGE_OVERHEAD_B))
  const graft = d((p) => p.graftSent)
  return {
    messagesSent: median(sent),
    messagesReceived: median(received),
    messageBytes: median(messageBytes),
    otherBytes: median(bytes.map((b, i) => b - messageBytes[i]!)),
    ihaveSent: median(d((p) => p.ihaveSent)),
    iwantSent: median(d((p) => p.iwantSent)),
    idontwantSent: median(d((p) => p.idontwantSent)),
    graftPruneSent: median(d((p) => p.pruneSent).map((p, i) => p + graft[i]!)),
    meanDataB,
  }
}

/** The parts side by side for each size, with the ratio of the largest to the smallest. */
export function gossipPartsTable(rows: { n: number; parts: GossipParts }[]): string {
  const first = rows[0]
  const last = rows[rows.length - 1]
  if (!first || !last) return ''
  const lines: [string, (p: GossipParts) => number][] = [
    ['messages sent', (p) => p.messagesSent],
    ['messages received', (p) => p.messagesReceived],
    ['bytes in whole messages (sent + received; count × mean size on the wire)', (p) => p.messageBytes],
    ['bytes in the rest: control and RPC framing', (p) => p.otherBytes],
    ['IHAVE sent (topic entries)', (p) => p.ihaveSent],
    ['IWANT sent', (p) => p.iwantSent],
    ['IDONTWANT sent', (p) => p.idontwantSent],
    ['GRAFT + PRUNE sent', (p) => p.graftPruneSent],
  ]
  const head = `| per node per minute (median) | ${rows.map((r) => `N = ${r.n}`).join(' | ')} | N = ${last.n} / N = ${first.n} |`
  const rule = `|---|${rows.map(() => '---|').join('')}---|`
  const body = lines.map(([name, get]) => {
    const a = get(first.parts)
    const b = get(last.parts)
    return `| ${name} | ${rows.map((r) => Math.round(get(r.parts))).join(' | ')} | ${a > 0 ? `${(b / a).toFixed(2)}×` : '–'} |`
  })
  const size = `Mean message data: ${rows.map((r) => `${Math.round(r.parts.meanDataB)} B at N = ${r.n}`).join(', ')} (on the wire about ${MESSAGE_OVERHEAD_B} B more: author, sequence number, topic, signature).`
  return [head, rule, ...body, '', size].join('\n')
}
