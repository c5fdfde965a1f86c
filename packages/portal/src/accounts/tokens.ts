import { createHash, randomBytes } from 'node:crypto'

/** A secret to hand out once (a link, a cookie, a code): only its hash is kept. */
export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url')
}
