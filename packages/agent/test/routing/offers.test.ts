import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TaskOfferBody, TaskSpec } from '@edgecoder/protocol'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkOffer, newNonce, OfferNonces, signOffer } from '../../src/routing/index.ts'
import { Store } from '../../src/store/index.ts'
import { testNode } from '../mesh/helpers.ts'

const submitter = await testNode()
const executor = await testNode()
const stranger = await testNode()
const now = Date.now()
const ctx = { self: executor.peerId, sender: submitter.peerId, now, maxSkewMs: 30_000 }

function body(patch: Partial<TaskOfferBody> = {}): TaskOfferBody {
  return {
    v: 1,
    taskId: 't-1',
    attempt: 1,
    origin: submitter.peerId,
    executor: executor.peerId,
    spec: TaskSpec.parse({ kind: 'run', language: 'python', code: 'x = 1' }),
    heartbeatMs: 1000,
    nonce: newNonce(),
    issuedAt: now,
    expiresAt: now + 30_000,
    ...patch,
  }
}

/** The offer as JSON on the wire, the way a receiver parses it. */
const wire = (v: unknown) => JSON.parse(JSON.stringify(v))

describe('checkOffer', () => {
  it('accepts an offer signed by its origin, sent by it, addressed to this node and in date', async () => {
    const r = await checkOffer(wire(await signOffer(body(), submitter.key)), ctx)
    expect(r).toMatchObject({ ok: true, offer: { taskId: 't-1', origin: submitter.peerId } })
  })

  it('refuses an offer signed by another key than the origin’s (forged)', async () => {
    const r = await checkOffer(wire(await signOffer(body(), stranger.key)), ctx)
    expect(r).toMatchObject({ ok: false, reason: 'forged' })
  })

  it('refuses an offer changed after it was signed (forged)', async () => {
    const signed = wire(await signOffer(body(), submitter.key))
    signed.body.spec.code = 'import os'
    expect(await checkOffer(signed, ctx)).toMatchObject({ ok: false, reason: 'forged' })
  })

  it('refuses a genuine offer relayed by another peer than its origin (forged)', async () => {
    const signed = wire(await signOffer(body(), submitter.key))
    const r = await checkOffer(signed, { ...ctx, sender: stranger.peerId })
    expect(r).toMatchObject({ ok: false, reason: 'forged' })
  })

  it('refuses an offer addressed to another executor (misaddressed)', async () => {
    const signed = wire(await signOffer(body({ executor: stranger.peerId }), submitter.key))
    expect(await checkOffer(signed, ctx)).toMatchObject({ ok: false, reason: 'misaddressed' })
  })

  it('refuses an expired offer and one dated in the future', async () => {
    const old = wire(await signOffer(body({ issuedAt: now - 60_000, expiresAt: now - 1 }), submitter.key))
    expect(await checkOffer(old, ctx)).toMatchObject({ ok: false, reason: 'expired' })
    const ahead = wire(
      await signOffer(body({ issuedAt: now + 60_000, expiresAt: now + 70_000 }), submitter.key),
    )
    expect(await checkOffer(ahead, ctx)).toMatchObject({ ok: false, reason: 'expired' })
  })

  it('refuses an offer valid for longer than the protocol allows', async () => {
    const long = wire(await signOffer(body({ expiresAt: now + 3_600_000 }), submitter.key))
    expect(await checkOffer(long, ctx)).toMatchObject({ ok: false, reason: 'malformed' })
  })

  it('refuses malformed offers, naming the field', async () => {
    const signed = wire(await signOffer(body(), submitter.key))
    expect(await checkOffer({ ...signed, extra: 1 }, ctx)).toMatchObject({ ok: false, reason: 'malformed' })
    const noNonce = { ...signed, body: { ...signed.body, nonce: 'short' } }
    const r = await checkOffer(noNonce, ctx)
    expect(r).toMatchObject({ ok: false, reason: 'malformed' })
    expect(r.ok || r.message).toMatch(/nonce/)
    expect(await checkOffer('not an offer', ctx)).toMatchObject({ ok: false, reason: 'malformed' })
  })
})

describe('OfferNonces', () => {
  let dir: string
  let store: Store
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgecoder-nonces-'))
    store = new Store(join(dir, 'edgecoder.db'))
  })
  afterEach(() => {
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('takes a nonce once per origin and refuses it again, also after a restart', () => {
    const nonces = new OfferNonces(store)
    expect(nonces.claim('a', 'n-1', now + 1000, now)).toBe(true)
    expect(nonces.claim('a', 'n-1', now + 1000, now)).toBe(false)
    expect(nonces.claim('b', 'n-1', now + 1000, now)).toBe(true)
    store.close()
    store = new Store(join(dir, 'edgecoder.db'))
    expect(new OfferNonces(store).claim('a', 'n-1', now + 1000, now)).toBe(false)
  })

  it('forgets nonces of expired offers', () => {
    const nonces = new OfferNonces(store)
    nonces.claim('a', 'n-1', now + 1000, now)
    nonces.sweep(now + 2000)
    expect(nonces.claim('a', 'n-1', now + 3000, now + 2000)).toBe(true)
  })
})
