import { describe, expect, it } from 'vitest'
import { canonicalJson, signingBytes } from '../src/index.ts'

describe('canonicalJson', () => {
  it.each([
    [null, 'null'],
    [true, 'true'],
    [0, '0'],
    [-1.5, '-1.5'],
    [1e21, '1e+21'],
    ['é"\n', '"é\\"\\n"'],
    [[], '[]'],
    [{}, '{}'],
    [{ b: 1, a: [2, { d: null, c: 'x' }] }, '{"a":[2,{"c":"x","d":null}],"b":1}'],
    [{ z: undefined, y: 1 }, '{"y":1}'],
    [{ B: 1, a: 2, _: 3, '10': 4, '9': 5 }, '{"10":4,"9":5,"B":1,"_":3,"a":2}'],
  ])('encodes %j as %s', (value, text) => {
    expect(canonicalJson(value)).toBe(text)
  })

  it('gives the same text whatever order the keys were written in', () => {
    expect(canonicalJson({ a: 1, b: { c: 2, d: 3 } })).toBe(canonicalJson({ b: { d: 3, c: 2 }, a: 1 }))
  })

  it.each([[Number.NaN], [Number.POSITIVE_INFINITY], [() => 1], [10n], [Symbol('s')]])(
    'refuses %s, which JSON cannot carry',
    (value) => {
      expect(() => canonicalJson(value)).toThrow(TypeError)
    },
  )

  it('prefixes signed bytes with a domain tag', () => {
    expect(new TextDecoder().decode(signingBytes('ledger-block', { b: 2, a: 1 }))).toBe(
      'edgecoder:ledger-block\n{"a":1,"b":2}',
    )
  })
})
