import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server'
import { z } from 'zod'
import type { PortalApp, RateLimiter } from '../http/index.ts'
import type { Accounts } from './accounts.ts'
import type { Passkeys } from './passkeys.ts'
import type { Sessions } from './sessions.ts'

export interface AccountDeps {
  accounts: Accounts
  passkeys: Passkeys
  sessions: Sessions
  limiter: RateLimiter
}

const Email = z
  .string()
  .max(254)
  .transform((s) => s.trim().toLowerCase())
  .pipe(z.email())
/** A WebAuthn response as the browser's JSON form gives it; @simplewebauthn checks every field. */
const WebAuthnResponse = z.looseObject({
  id: z.string().min(1).max(1024),
  rawId: z.string().max(1024),
  type: z.literal('public-key'),
  response: z.looseObject({ clientDataJSON: z.string().max(8192) }),
})
const Accepted = z.object({ status: z.literal('sent') })

/** Sign-up, email links, passkey sign-in, the account and its passkeys. */
export function accountRoutes(d: AccountDeps) {
  return (app: PortalApp) => {
    app.post(
      '/auth/signup',
      { schema: { body: z.object({ email: Email }), response: { 202: Accepted } } },
      async (req, reply) => {
        d.limiter.hit('signUp', req.ip)
        d.limiter.hit('emailSend', req.body.email)
        await d.accounts.signUp(req.body.email)
        return reply.code(202).send({ status: 'sent' as const })
      },
    )
    app.post(
      '/auth/recover',
      { schema: { body: z.object({ email: Email }), response: { 202: Accepted } } },
      async (req, reply) => {
        d.limiter.hit('signUp', req.ip)
        d.limiter.hit('emailSend', req.body.email)
        await d.accounts.recover(req.body.email)
        return reply.code(202).send({ status: 'sent' as const })
      },
    )
    app.post(
      '/auth/link',
      { schema: { body: z.object({ token: z.string().min(10).max(100) }) } },
      async (req, reply) => {
        d.limiter.hit('signIn', req.ip)
        const account = await d.accounts.confirmLink(req.body.token)
        const s = await d.sessions.create(reply, account.id, 'setup')
        return { account, level: s.level, csrfToken: s.csrf }
      },
    )
    app.post('/auth/passkey/options', { schema: {} }, async (req) => {
      d.limiter.hit('signIn', req.ip)
      return d.passkeys.authenticationOptions(null)
    })
    app.post(
      '/auth/passkey',
      { schema: { body: z.object({ challengeId: z.uuid(), response: WebAuthnResponse }) } },
      async (req, reply) => {
        d.limiter.hit('signIn', req.ip)
        const { accountId } = await d.passkeys.authenticate(
          req.body.challengeId,
          req.body.response as unknown as AuthenticationResponseJSON,
          null,
        )
        const s = await d.sessions.create(reply, accountId, 'full')
        return { account: await d.accounts.get(accountId), level: s.level, csrfToken: s.csrf }
      },
    )
    app.post('/auth/signout', { schema: {} }, async (req, reply) => {
      await d.sessions.require(req, 'setup')
      await d.sessions.end(req, reply)
      return reply.code(204).send()
    })

    app.get('/account', { schema: {} }, async (req) => {
      const s = await d.sessions.require(req, 'setup')
      const passkeys = await d.passkeys.list(s.accountId)
      return {
        account: await d.accounts.get(s.accountId),
        level: s.level,
        csrfToken: s.csrf,
        passkeys: passkeys.map((p) => ({
          id: p.id,
          name: p.name,
          createdAt: p.created_at.toISOString(),
          lastUsedAt: p.last_used_at?.toISOString() ?? null,
        })),
      }
    })
    app.post('/account/passkeys/options', { schema: {} }, async (req) => {
      const s = await d.sessions.require(req, 'setup')
      return d.passkeys.registrationOptions(await d.accounts.get(s.accountId))
    })
    app.post(
      '/account/passkeys',
      {
        schema: {
          body: z.object({
            challengeId: z.uuid(),
            name: z.string().trim().min(1).max(60).default('passkey'),
            response: WebAuthnResponse,
          }),
        },
      },
      async (req, reply) => {
        const s = await d.sessions.require(req, 'setup')
        const out = await d.passkeys.register(
          s.accountId,
          req.body.challengeId,
          req.body.name,
          req.body.response as unknown as RegistrationResponseJSON,
        )
        // Adding a passkey proves what signing in with one would: the session becomes a full one.
        if (s.level === 'setup') await d.sessions.upgrade(s)
        return reply.code(201).send(out)
      },
    )
    app.delete(
      '/account/passkeys/:id',
      { schema: { params: z.object({ id: z.string().min(1).max(1024) }) } },
      async (req, reply) => {
        const s = await d.sessions.require(req, 'full')
        await d.passkeys.remove(s.accountId, req.params.id)
        return reply.code(204).send()
      },
    )
    /** Re-authentication with a passkey, asked before a withdrawal. */
    app.post('/account/reauth/options', { schema: {} }, async (req) => {
      const s = await d.sessions.require(req, 'full')
      return d.passkeys.authenticationOptions(s.accountId)
    })
    app.post(
      '/account/reauth',
      { schema: { body: z.object({ challengeId: z.uuid(), response: WebAuthnResponse }) } },
      async (req, reply) => {
        const s = await d.sessions.require(req, 'full')
        d.limiter.hit('signIn', req.ip)
        await d.passkeys.authenticate(
          req.body.challengeId,
          req.body.response as unknown as AuthenticationResponseJSON,
          s.accountId,
        )
        await d.sessions.markReauth(s)
        return reply.code(204).send()
      },
    )
  }
}
