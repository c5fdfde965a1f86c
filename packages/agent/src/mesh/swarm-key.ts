import { hkdfSync } from 'node:crypto'

// Fixed salt and info: every node derives the same key from the same token, and the key is
// useless for anything but this purpose.
const SALT = 'edgecoder mesh'
const INFO = 'pnet psk v1'

/**
 * The pre-shared key of a private mesh, in the swarm key format `@libp2p/pnet` reads
 * (`/key/swarm/psk/1.0.0/`, base16, 32 bytes). Nodes with different tokens get different keys,
 * so their connections fail before any libp2p protocol runs.
 */
export function swarmKeyFromToken(token: string): Uint8Array {
  const key = Buffer.from(hkdfSync('sha256', token, SALT, INFO, 32)).toString('hex')
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${key}`)
}
