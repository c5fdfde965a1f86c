import { writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ActivationCertificate, canonicalJson, EnrollChallenge, enrollProof } from '@edgecoder/protocol'
import { joinDashValues } from '../args.ts'
import { loadOrCreateIdentity, type NodeIdentity } from '../identity.ts'

export const ACTIVATION_FILE = 'activation.json'

/** Posts JSON to the portal; its error shape becomes the message. */
async function post(base: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(new URL(path, base.endsWith('/') ? base : `${base}/`), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  })
  const json = (await res.json().catch(() => null)) as { error?: { message?: string } } | null
  if (!res.ok) throw new Error(`portal answered ${res.status}: ${json?.error?.message ?? 'no details'}`)
  return json
}

export interface Enrolled {
  portal: string
  certificate: ActivationCertificate
}

const ENROLL_FLAGS = {
  portal: { type: 'string' },
  code: { type: 'string' },
  'data-dir': { type: 'string' },
  'public-addr': { type: 'string', multiple: true },
} as const

/**
 * Proves to the portal that this node holds its key (it signs the portal's challenge for `code`)
 * and keeps the activation certificate in the data dir.
 */
export async function enrollNode(
  dataDir: string,
  identity: NodeIdentity,
  portal: string,
  code: string,
  publicAddrs: string[] = [],
): Promise<Enrolled> {
  const peerId = identity.peerId.toString()
  const ch = EnrollChallenge.parse(await post(portal, 'enroll/challenge', { code, peerId }))
  const proof = enrollProof({
    challengeId: ch.challengeId,
    nonce: ch.nonce,
    peerId,
    portalPeerId: ch.portalPeerId,
  })
  const signature = await identity.privateKey.sign(new TextEncoder().encode(canonicalJson(proof)))
  const out = (await post(portal, 'enroll/complete', {
    challengeId: ch.challengeId,
    peerId,
    signature: Buffer.from(signature).toString('base64url'),
    publicAddrs,
  })) as { certificate: unknown }
  const cert = ActivationCertificate.parse(out.certificate)
  if (cert.peerId !== peerId || cert.issuer !== ch.portalPeerId)
    throw new Error('the portal answered a certificate for someone else')
  writeFileSync(
    join(dataDir, ACTIVATION_FILE),
    `${JSON.stringify({ portal, certificate: cert }, null, 2)}\n`,
    {
      mode: 0o600,
    },
  )
  return { portal, certificate: cert }
}

/**
 * `edgecoder enroll --portal URL --code C`: proves to the portal that this node holds its key
 * (it signs the portal's challenge) and keeps the activation certificate in the data dir.
 */
export async function enrollCommand(argv: string[]): Promise<number> {
  let values: { portal?: string; code?: string; 'data-dir'?: string; 'public-addr'?: string[] }
  try {
    values = parseArgs({
      args: joinDashValues(argv, ENROLL_FLAGS),
      options: ENROLL_FLAGS,
      strict: true,
    }).values
  } catch (err) {
    process.stderr.write(`edgecoder enroll: ${(err as Error).message}\n`)
    return 2
  }
  const portal = values.portal ?? process.env.EDGECODER_PORTAL_URL
  if (!portal || !values.code) {
    process.stderr.write('edgecoder enroll: --portal URL and --code CODE are required\n')
    return 2
  }
  const dataDir = resolve(
    values['data-dir'] ?? process.env.EDGECODER_DATA_DIR ?? join(homedir(), '.edgecoder'),
  )
  try {
    const identity = await loadOrCreateIdentity(dataDir)
    const peerId = identity.peerId.toString()
    const { certificate: cert } = await enrollNode(
      dataDir,
      identity,
      portal,
      values.code,
      values['public-addr'] ?? [],
    )
    process.stdout.write(
      `activated ${peerId} for account ${cert.accountId} (${cert.roles.join(', ')}) until ${new Date(cert.expiresAt).toISOString()}\n`,
    )
    return 0
  } catch (err) {
    process.stderr.write(`edgecoder enroll: ${(err as Error).message}\n`)
    return 1
  }
}
