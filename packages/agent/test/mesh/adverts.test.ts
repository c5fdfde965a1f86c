import { ADVERT_MAX_BYTES, ADVERT_SIGNING_DOMAIN, signingBytes } from '@edgecoder/protocol'
import { describe, expect, it } from 'vitest'
import { AdvertTooLargeError, checkAdvert, signAdvert } from '../../src/mesh/index.ts'
import { advertBody, testNode, WINDOW } from './helpers.ts'

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v))
const check = (bytes: Uint8Array, sender: string | null, now = Date.now()) =>
  checkAdvert(bytes, sender, { now, ...WINDOW })

describe('advert checks', () => {
  it('accepts an advert signed by the peer it names and sent by that peer', async () => {
    const n = await testNode()
    const r = await check(await signAdvert(advertBody(n.peerId), n.key), n.peerId)
    expect(r.ok).toBe(true)
    if (r.ok) expect(r.advert.signed.body.region).toBe('eu-west')
  })

  it('refuses an advert whose body was changed after signing', async () => {
    const n = await testNode()
    const signed = JSON.parse(new TextDecoder().decode(await signAdvert(advertBody(n.peerId), n.key)))
    signed.body.region = 'elsewhere'
    expect(await check(enc(signed), n.peerId)).toEqual({ ok: false, reason: 'bad-signature' })
  })

  it('refuses an advert that names another peer than the one that sent it', async () => {
    const honest = await testNode()
    const liar = await testNode()
    const forged = await signAdvert(advertBody(honest.peerId), liar.key)
    expect(await check(forged, liar.peerId)).toEqual({ ok: false, reason: 'sender-mismatch' })
    // Relayed in a snapshot (no sender), the forgery still fails on its signature.
    expect(await check(forged, null)).toEqual({ ok: false, reason: 'bad-signature' })
  })

  it('refuses a genuine advert replayed by another peer', async () => {
    const honest = await testNode()
    const replayer = await testNode()
    const genuine = await signAdvert(advertBody(honest.peerId), honest.key)
    expect(await check(genuine, replayer.peerId)).toEqual({ ok: false, reason: 'sender-mismatch' })
  })

  it('refuses stale adverts and adverts dated in the future', async () => {
    const n = await testNode()
    const now = Date.now()
    const old = await signAdvert(advertBody(n.peerId, { timestamp: now - 10 * 60_000 }), n.key)
    const ahead = await signAdvert(advertBody(n.peerId, { timestamp: now + 10 * 60_000 }), n.key)
    expect(await check(old, n.peerId, now)).toEqual({ ok: false, reason: 'stale' })
    expect(await check(ahead, n.peerId, now)).toEqual({ ok: false, reason: 'future' })
  })

  it('refuses oversize, non-JSON and wrongly shaped adverts', async () => {
    const n = await testNode()
    expect(await check(new Uint8Array(ADVERT_MAX_BYTES + 1), n.peerId)).toEqual({
      ok: false,
      reason: 'oversize',
    })
    expect(await check(enc('{not json'), n.peerId)).toEqual({ ok: false, reason: 'malformed' })
    expect(await check(new Uint8Array([0xff, 0xfe, 0x00]), n.peerId)).toEqual({
      ok: false,
      reason: 'malformed',
    })
    expect(await check(enc({ body: { v: 2 }, sig: 'x' }), n.peerId)).toEqual({
      ok: false,
      reason: 'malformed',
    })
    const body = advertBody(n.peerId, { peerId: 'not-a-peer-id' })
    expect(await check(enc({ body, sig: 'AAAA' }), null)).toEqual({ ok: false, reason: 'malformed' })
  })

  it('will not sign an advert above the gossip cap', async () => {
    const n = await testNode()
    const models = Array.from({ length: 32 }, (_, i) => ({
      name: `model-${i}-${'x'.repeat(110)}`,
      family: 'gemma',
      parameters: '270M',
      quantization: 'Q4_K_M',
      contextLength: 8192,
    }))
    await expect(signAdvert(advertBody(n.peerId, { models }), n.key)).rejects.toBeInstanceOf(
      AdvertTooLargeError,
    )
  })

  it('keeps fields it does not know, and they stay covered by the signature', async () => {
    const n = await testNode()
    const body = { ...advertBody(n.peerId), futureField: { gpu: 'h100' } }
    const sig = Buffer.from(await n.key.sign(signingBytes(ADVERT_SIGNING_DOMAIN, body))).toString('base64url')
    expect((await check(enc({ body, sig }), n.peerId)).ok).toBe(true)
    const tampered = { body: { ...body, futureField: { gpu: 'none' } }, sig }
    expect(await check(enc(tampered), n.peerId)).toEqual({ ok: false, reason: 'bad-signature' })
  })
})
