/**
 * Canonical JSON: object keys sorted, no whitespace, so that the same value always gives the
 * same bytes to sign. Only plain JSON values are accepted; anything else is a caller's bug.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number')
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  throw new TypeError(`canonicalJson: unsupported ${typeof value}`)
}

/** Canonical bytes of a value, prefixed with a domain tag so a signature for one purpose can't be reused for another. */
export function signingBytes(domain: string, value: unknown): Uint8Array {
  return new TextEncoder().encode(`edgecoder:${domain}\n${canonicalJson(value)}`)
}
