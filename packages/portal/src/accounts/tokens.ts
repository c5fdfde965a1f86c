import { createHash, randomBytes } from 'node:crypto'

/** A secret to hand out once (a link, a cookie, a code): only its hash is kept. */
export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url')
}

const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTVWXYZ23456789'

/** A code people type (an enrollment code): 20 characters from an unambiguous alphabet, in groups of 4 (~98 bits). */
export function newCode(): string {
  const bytes = randomBytes(20)
  const chars = [...bytes].map((b) => CODE_ALPHABET[b % CODE_ALPHABET.length])
  return chars.join('').replace(/(.{4})(?=.)/g, '$1-')
}
