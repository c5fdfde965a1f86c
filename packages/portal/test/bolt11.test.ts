import { describe, expect, it } from 'vitest'
import { Bolt11Error, decodeBolt11 } from '../src/lightning/index.ts'

// The examples of the BOLT #11 specification.
const COFFEE =
  'lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpuaztrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97j25emudupq63nyw24cg27h2rspfj9srp'
const DONATION =
  'lnbc1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq8rkx3yf5tcsyz3d73gafnh3cax9rn449d9p5uxz9ezhhypd0elx87sjle52x86fux2ypatgddc6k63n7erqz25le42c4u4ecky03ylcqca784w'

describe('decodeBolt11', () => {
  it('reads amount, time, expiry, hash and description of the specification’s example', () => {
    const d = decodeBolt11(COFFEE)
    expect(d).toMatchObject({
      network: 'bc',
      msat: 250_000_000n,
      timestamp: 1496314658,
      expirySec: 60,
      paymentHash: '0001020304050607080900010203040506070809000102030405060708090102',
      description: '1 cup coffee',
    })
  })

  it('reads an invoice without an amount as such', () => {
    const d = decodeBolt11(DONATION)
    expect(d.msat).toBeNull()
    expect(d.expirySec).toBe(3600)
    expect(d.description).toBe('Please consider supporting this project')
  })

  it('refuses a bad checksum, an unknown prefix and garbage', () => {
    expect(() => decodeBolt11(`${COFFEE.slice(0, -1)}q`)).toThrow(Bolt11Error)
    expect(() => decodeBolt11('lnxx1qqqqqqqqqqqqqq')).toThrow(Bolt11Error)
    expect(() => decodeBolt11('hello')).toThrow(Bolt11Error)
    expect(() => decodeBolt11('x'.repeat(10_000))).toThrow(Bolt11Error)
  })
})
