/** bech32 (BIP-173) without the 90-character limit, as BOLT11 uses it. */
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]

function polymod(values: number[]): number {
  let chk = 1
  for (const v of values) {
    const top = chk >> 25
    chk = ((chk & 0x1ffffff) << 5) ^ v
    for (let i = 0; i < 5; i++) if ((top >> i) & 1) chk ^= GEN[i]!
  }
  return chk
}

const expand = (hrp: string) => [
  ...[...hrp].map((c) => c.charCodeAt(0) >> 5),
  0,
  ...[...hrp].map((c) => c.charCodeAt(0) & 31),
]

export function bech32Decode(text: string): { hrp: string; words: number[] } {
  if (text.length > 8192) throw new Error('too long')
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) throw new Error('mixed case')
  const s = text.toLowerCase()
  const pos = s.lastIndexOf('1')
  if (pos < 1 || pos + 7 > s.length) throw new Error('no separator')
  const hrp = s.slice(0, pos)
  const words = [...s.slice(pos + 1)].map((c) => {
    const v = CHARSET.indexOf(c)
    if (v === -1) throw new Error(`invalid character "${c}"`)
    return v
  })
  if (polymod([...expand(hrp), ...words]) !== 1) throw new Error('bad checksum')
  return { hrp, words: words.slice(0, -6) }
}

export function bech32Encode(hrp: string, words: number[]): string {
  const mod = polymod([...expand(hrp), ...words, 0, 0, 0, 0, 0, 0]) ^ 1
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >> (5 * (5 - i))) & 31)
  return `${hrp}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`
}

/** Regroups bits: 5-bit words to bytes (pad false) or bytes to 5-bit words (pad true). */
export function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] {
  let acc = 0
  let bits = 0
  const out: number[] = []
  const max = (1 << to) - 1
  for (let i = 0; i < data.length; i++) {
    acc = (acc << from) | data[i]!
    bits += from
    while (bits >= to) {
      bits -= to
      out.push((acc >> bits) & max)
    }
  }
  if (pad && bits > 0) out.push((acc << (to - bits)) & max)
  return out
}
