import { ADVERT_MAX_BYTES } from '@edgecoder/protocol'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { openStream } from './open-stream.ts'

/**
 * A peer that connects asks for the adverts its new neighbour holds, so a joining node fills its
 * table at once instead of waiting a heartbeat for each peer. Adverts carry their own signatures,
 * so the neighbour relaying them can't alter them.
 */
export const SNAPSHOT_PROTOCOL = '/edgecoder/advert-snapshot/1.0.0'

/** The most adverts one snapshot carries. */
export const SNAPSHOT_MAX_ADVERTS = 512

/** Writes each advert as one length-prefixed frame, then closes the stream. */
export async function serveSnapshot(
  stream: Stream,
  adverts: Uint8Array[],
  signal: AbortSignal,
): Promise<void> {
  for (const bytes of adverts.slice(0, SNAPSHOT_MAX_ADVERTS)) {
    if (!stream.send(lp.encode.single(bytes))) await stream.onDrain({ signal })
  }
  await stream.close({ signal })
}

/** Reads a peer's snapshot: the raw adverts, each still to be checked like any other. */
export async function fetchSnapshot(host: Libp2p, peer: PeerId, signal: AbortSignal): Promise<Uint8Array[]> {
  const stream = await openStream(host, peer, SNAPSHOT_PROTOCOL, { signal })
  const onAbort = () => stream.abort(new Error('snapshot aborted'))
  signal.addEventListener('abort', onAbort, { once: true })
  const out: Uint8Array[] = []
  try {
    // A frame above the advert cap ends the read: the peer is not speaking this protocol honestly.
    for await (const frame of lp.decode(stream, { maxDataLength: ADVERT_MAX_BYTES })) {
      out.push(frame.subarray())
      if (out.length >= SNAPSHOT_MAX_ADVERTS) break
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
    if (stream.status === 'open')
      await stream.close({ signal }).catch(() => stream.abort(new Error('close failed')))
  }
  return out
}
