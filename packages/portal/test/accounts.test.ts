import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKENDS, PortalClient, startTestPortal, stopCluster, type TestPortal } from './helpers/portal.ts'
import { linkToken } from './helpers/smtp-sink.ts'

afterAll(() => stopCluster())

describe.each(BACKENDS)('accounts on %s', (backend) => {
  let t: TestPortal
  beforeAll(async () => {
    t = await startTestPortal(backend, {
      rateRules: {
        signIn: { limit: 30, windowMs: 60_000 },
        signUp: { limit: 50, windowMs: 60_000 },
        emailSend: { limit: 3, windowMs: 60_000 },
        enroll: { limit: 50, windowMs: 60_000 },
      },
    })
  })
  afterAll(() => t?.stop())

  it('mails a verification link over SMTP; the link gives a session that may only add a passkey', async () => {
    const c = new PortalClient(t)
    const up = await c.json('POST', '/auth/signup', { json: { email: 'Ada@Example.org' } })
    expect(up).toEqual({ status: 202, body: { status: 'sent' } })
    const mail = await t.mail.waitFor('ada@example.org')
    const token = linkToken(mail)
    const link = await c.json('POST', '/auth/link', { json: { token } })
    expect(link.status).toBe(200)
    expect(link.body.account).toMatchObject({ email: 'ada@example.org', emailVerified: true })
    expect(link.body.level).toBe('setup')
    c.csrf = link.body.csrfToken
    const nodes = await c.json('GET', '/nodes')
    expect(nodes.status).toBe(403)
    expect(nodes.body.error.code).toBe('passkey_required')
    // The link works once.
    const again = await new PortalClient(t).json('POST', '/auth/link', { json: { token } })
    expect(again.status).toBe(400)
    expect(again.body.error.code).toBe('invalid_link')
    await c.addPasskey('laptop')
    expect((await c.json('GET', '/nodes')).status).toBe(200)
  })

  it('sets the session cookie HttpOnly, Secure and SameSite=Strict', async () => {
    const c = new PortalClient(t)
    await c.json('POST', '/auth/signup', { json: { email: 'cookie@example.org' } })
    const token = linkToken(await t.mail.waitFor('cookie@example.org'))
    const res = await c.call('POST', '/auth/link', { json: { token } })
    const set = res.headers.getSetCookie().find((s) => s.startsWith('edgecoder_session='))!
    expect(set).toMatch(/; HttpOnly/i)
    expect(set).toMatch(/; Secure/i)
    expect(set).toMatch(/; SameSite=Strict/i)
  })

  it('registers several passkeys, signs in with each, removes one, and keeps the last', async () => {
    const c = new PortalClient(t)
    await c.signUpWithPasskey(t, 'keys@example.org')
    await c.addPasskey('phone')
    const acc = await c.json('GET', '/account')
    expect(acc.body.passkeys.map((p: { name: string }) => p.name)).toEqual(['first', 'phone'])

    const fresh = new PortalClient(t)
    fresh.authenticator.credentials.push(...c.authenticator.credentials)
    expect((await fresh.signInWithPasskey(0)).status).toBe(200)
    expect((await fresh.signInWithPasskey(1)).status).toBe(200)

    const removed = acc.body.passkeys[0].id
    expect((await fresh.call('DELETE', `/account/passkeys/${encodeURIComponent(removed)}`)).status).toBe(204)
    const refused = await fresh.signInWithPasskey(0)
    expect(refused.status).toBe(401)
    expect(refused.body.error.code).toBe('passkey_refused')
    expect((await fresh.signInWithPasskey(1)).status).toBe(200)

    const last = await fresh.json(
      'DELETE',
      `/account/passkeys/${encodeURIComponent(acc.body.passkeys[1].id)}`,
    )
    expect(last.status).toBe(409)
    expect(last.body.error.code).toBe('last_passkey')
  })

  it('recovers an account whose passkeys are lost through its verified email', async () => {
    const c = new PortalClient(t)
    const id = await c.signUpWithPasskey(t, 'lost@example.org')
    const lost = new PortalClient(t)
    expect((await lost.json('POST', '/auth/recover', { json: { email: 'lost@example.org' } })).status).toBe(
      202,
    )
    const link = await lost.json('POST', '/auth/link', {
      json: { token: linkToken(await t.mail.waitFor('lost@example.org', 1)) },
    })
    expect(link.body.account.id).toBe(id)
    lost.csrf = link.body.csrfToken
    await lost.addPasskey('new laptop')
    const again = new PortalClient(t)
    again.authenticator.credentials.push(...lost.authenticator.credentials)
    const signIn = await again.signInWithPasskey()
    expect(signIn.status).toBe(200)
    expect(signIn.body.account.id).toBe(id)
  })

  it('answers a sign-up for a taken address like any other, and mails its owner a sign-in link', async () => {
    const c = new PortalClient(t)
    await c.signUpWithPasskey(t, 'taken@example.org')
    const other = new PortalClient(t)
    expect(await other.json('POST', '/auth/signup', { json: { email: 'taken@example.org' } })).toEqual({
      status: 202,
      body: { status: 'sent' },
    })
    const mail = await t.mail.waitFor('taken@example.org', 1)
    expect(mail.raw).toContain('Sign in to EdgeCoder')
  })

  it('refuses an assertion made for another origin, and a challenge used twice', async () => {
    const c = new PortalClient(t)
    await c.signUpWithPasskey(t, 'phish@example.org')
    const opts = await c.json('POST', '/auth/passkey/options')
    const forged = c.authenticator.get(opts.body.options, 0, { origin: 'https://evil.example' })
    const res = await c.json('POST', '/auth/passkey', {
      json: { challengeId: opts.body.challengeId, response: forged },
    })
    expect(res.status).toBe(401)
    const opts2 = await c.json('POST', '/auth/passkey/options')
    const good = c.authenticator.get(opts2.body.options)
    expect(
      (
        await c.json('POST', '/auth/passkey', {
          json: { challengeId: opts2.body.challengeId, response: good },
        })
      ).status,
    ).toBe(200)
    const replay = await c.json('POST', '/auth/passkey', {
      json: { challengeId: opts2.body.challengeId, response: good },
    })
    expect(replay.status).toBe(401)
    expect(replay.body.error.code).toBe('passkey_refused')
  })

  it('refuses state changes from another origin, from a cross-site page, and without the CSRF token', async () => {
    const c = new PortalClient(t)
    await c.signUpWithPasskey(t, 'csrf@example.org')
    const foreign = await c.json('POST', '/nodes/enrollment-codes', {
      json: {},
      origin: 'https://evil.example',
    })
    expect(foreign.status).toBe(403)
    expect(foreign.body.error.code).toBe('forbidden_origin')
    const site = await c.json('POST', '/nodes/enrollment-codes', {
      json: {},
      headers: { 'sec-fetch-site': 'cross-site' },
      origin: null,
    })
    expect(site.status).toBe(403)
    const noToken = await c.json('POST', '/nodes/enrollment-codes', { json: {}, csrf: false })
    expect(noToken.status).toBe(403)
    expect(noToken.body.error.code).toBe('csrf')
    const form = await c.call('POST', '/nodes/enrollment-codes', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(form.status).toBe(415)
    expect((await c.json('POST', '/nodes/enrollment-codes', { json: {} })).status).toBe(201)
  })

  it('answers hostile input with the one error shape and changes nothing', async () => {
    const c = new PortalClient(t)
    const bad = async (body: string, type = 'application/json') => {
      const res = await fetch(`${t.ready.publicUrl}/auth/signup`, {
        method: 'POST',
        headers: { 'content-type': type },
        body,
      })
      return { status: res.status, body: (await res.json()) as { error: { code: string } } }
    }
    expect((await bad('{not json')).status).toBe(400)
    const wrong = await bad(JSON.stringify({ email: 42 }))
    expect(wrong.status).toBe(400)
    expect(wrong.body.error.code).toBe('invalid_request')
    expect((await bad(JSON.stringify({ email: 'x'.repeat(200_000) }))).status).toBe(413)
    expect((await bad('email=a@b.c', 'text/plain')).status).toBe(415)
    const notEmail = await c.json('POST', '/auth/signup', { json: { email: 'not-an-address' } })
    expect(notEmail.status).toBe(400)
    expect(t.mail.mails.some((m) => m.to === 'not-an-address')).toBe(false)
  })

  it('answers hostile or unauthorised calls on the node and wallet endpoints in the one error shape', async () => {
    const c = new PortalClient(t)
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/enroll/challenge', { code: 123, peerId: 'x' }, 400, 'invalid_request'],
      [
        'POST',
        '/enroll/challenge',
        { code: 'AAAA-BBBB-CCCC', peerId: 'not-a-peer-id' },
        400,
        'invalid_peer_id',
      ],
      [
        'POST',
        '/enroll/complete',
        { challengeId: 'nope', peerId: 'x', signature: 'y' },
        400,
        'invalid_request',
      ],
      [
        'POST',
        '/activation/renew',
        { peerId: 'x'.repeat(500), at: 1, signature: 'y' },
        400,
        'invalid_request',
      ],
      ['GET', '/nodes', undefined, 401, 'unauthorized'],
      ['GET', '/wallet', undefined, 503, 'wallet_off'],
      ['DELETE', '/account/passkeys/x', undefined, 401, 'unauthorized'],
    ]
    for (const [method, path, json, status, code] of cases) {
      const r = await c.json(method, path, { json })
      expect([path, r.status, r.body.error.code]).toEqual([path, status, code])
    }
    const big = await c.call('POST', '/enroll/complete', { json: { pad: 'x'.repeat(100_000) } })
    expect(big.status).toBe(413)
  })

  it('limits mail sends per address', async () => {
    const c = new PortalClient(t)
    const codes = []
    for (let i = 0; i < 5; i++)
      codes.push((await c.json('POST', '/auth/recover', { json: { email: 'flood@example.org' } })).status)
    expect(codes).toEqual([202, 202, 202, 429, 429])
  })
})

describe('sign-in rate limit', () => {
  it('stops brute force past the limit with 429 and Retry-After', async () => {
    const t = await startTestPortal('pglite', {
      rateRules: {
        signIn: { limit: 5, windowMs: 60_000 },
        signUp: { limit: 5, windowMs: 60_000 },
        emailSend: { limit: 5, windowMs: 60_000 },
        enroll: { limit: 5, windowMs: 60_000 },
      },
    })
    try {
      const c = new PortalClient(t)
      const statuses: number[] = []
      for (let i = 0; i < 7; i++) {
        const r = await c.call('POST', '/auth/link', { json: { token: `guess-${i}-xxxxxxxxxxxx` } })
        statuses.push(r.status)
        if (r.status === 429) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
      }
      expect(statuses).toEqual([400, 400, 400, 400, 400, 429, 429])
    } finally {
      await t.stop()
    }
  })
})
