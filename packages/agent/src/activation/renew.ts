import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ActivationCertificate, canonicalJson } from '@edgecoder/protocol'
import type { NodeIdentity } from '../identity.ts'
import { loadOrCreateIdentity } from '../identity.ts'
import { ACTIVATION_FILE } from './enroll.ts'

export interface SavedActivation {
  portal: string
  certificate: ActivationCertificate
}

/** The activation kept in the data dir by `edgecoder enroll`, if any. */
export function readActivation(dataDir: string): SavedActivation | null {
  const path = join(dataDir, ACTIVATION_FILE)
  if (!existsSync(path)) return null
  const raw = JSON.parse(readFileSync(path, 'utf8')) as { portal?: unknown; certificate?: unknown }
  if (typeof raw.portal !== 'string') return null
  const cert = ActivationCertificate.safeParse(raw.certificate)
  return cert.success ? { portal: raw.portal, certificate: cert.data } : null
}

/** The portal refused to renew: revoked, or never activated. */
export class ActivationRefusedError extends Error {
  override name = 'ActivationRefusedError'
}

/** Asks the portal for a fresh certificate, proving the key again; keeps it in the data dir. */
export async function renewActivation(
  dataDir: string,
  identity: NodeIdentity,
  signal?: AbortSignal,
): Promise<SavedActivation> {
  const saved = readActivation(dataDir)
  if (saved === null) throw new ActivationRefusedError('this node is not enrolled (edgecoder enroll)')
  const peerId = identity.peerId.toString()
  const at = Date.now()
  const msg = canonicalJson({
    type: 'edgecoder.activation-renew/1',
    peerId,
    at,
    portal: saved.certificate.issuer,
  })
  const signature = Buffer.from(await identity.privateKey.sign(new TextEncoder().encode(msg))).toString(
    'base64url',
  )
  const res = await fetch(
    new URL('activation/renew', saved.portal.endsWith('/') ? saved.portal : `${saved.portal}/`),
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ peerId, at, signature }),
      signal: signal ?? AbortSignal.timeout(30_000),
    },
  )
  const body = (await res.json().catch(() => null)) as {
    certificate?: unknown
    error?: { code: string; message: string }
  } | null
  if (!res.ok) {
    const why = body?.error ? `${body.error.code}: ${body.error.message}` : `status ${res.status}`
    if (res.status === 403) throw new ActivationRefusedError(why)
    throw new Error(`portal answered ${why}`)
  }
  const cert = ActivationCertificate.parse(body?.certificate)
  if (cert.peerId !== peerId || cert.issuer !== saved.certificate.issuer)
    throw new Error('the portal answered a certificate for someone else')
  const next = { portal: saved.portal, certificate: cert }
  writeFileSync(join(dataDir, ACTIVATION_FILE), `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 })
  return next
}

/** `edgecoder activation renew|show`: a fresh certificate now, or the one kept. */
export async function activationCommand(argv: string[]): Promise<number> {
  let parsed: { values: { 'data-dir'?: string }; positionals: string[] }
  try {
    parsed = parseArgs({
      args: argv,
      options: { 'data-dir': { type: 'string' } },
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    process.stderr.write(`edgecoder activation: ${(err as Error).message}\n`)
    return 2
  }
  const dataDir = resolve(
    parsed.values['data-dir'] ?? process.env.EDGECODER_DATA_DIR ?? join(homedir(), '.edgecoder'),
  )
  const verb = parsed.positionals[0] ?? 'show'
  try {
    if (verb === 'show') {
      const saved = readActivation(dataDir)
      process.stdout.write(saved ? `${JSON.stringify(saved, null, 2)}\n` : 'not enrolled\n')
      return 0
    }
    if (verb === 'renew') {
      const next = await renewActivation(dataDir, await loadOrCreateIdentity(dataDir))
      process.stdout.write(`renewed until ${new Date(next.certificate.expiresAt).toISOString()}\n`)
      return 0
    }
    process.stderr.write('edgecoder activation: show | renew\n')
    return 2
  } catch (err) {
    process.stderr.write(`edgecoder activation: ${(err as Error).message}\n`)
    return 1
  }
}
