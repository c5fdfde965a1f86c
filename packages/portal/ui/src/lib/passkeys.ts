import { startAuthentication, startRegistration } from '@simplewebauthn/browser'
import { api, setCsrf } from './api.ts'

// biome-ignore lint/suspicious/noExplicitAny: the options JSON as the server sends it
type Options = { challengeId: string; options: any }

export async function addPasskey(name: string): Promise<void> {
  const o = await api<Options>('POST', '/account/passkeys/options')
  const response = await startRegistration({ optionsJSON: o.options })
  await api('POST', '/account/passkeys', { challengeId: o.challengeId, name, response })
}

export async function signInWithPasskey(): Promise<void> {
  const o = await api<Options>('POST', '/auth/passkey/options')
  const response = await startAuthentication({ optionsJSON: o.options })
  const s = await api<{ csrfToken: string }>('POST', '/auth/passkey', {
    challengeId: o.challengeId,
    response,
  })
  setCsrf(s.csrfToken)
}

/** A fresh passkey assertion for this account, asked before money leaves. */
export async function reauthenticate(): Promise<void> {
  const o = await api<Options>('POST', '/account/reauth/options')
  const response = await startAuthentication({ optionsJSON: o.options })
  await api('POST', '/account/reauth', { challengeId: o.challengeId, response })
}
