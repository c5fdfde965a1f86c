import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { canonicalJson, enrollProof } from '@edgecoder/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyActivation } from '../../packages/agent/src/activation/index.ts'
import { PortalKey } from '../../packages/portal/src/index.ts'
import {
  BACKENDS,
  PortalClient,
  startTestPortal,
  stopCluster,
  type TestPortal,
} from '../../packages/portal/test/helpers/portal.ts'
import { type AgentProcess, cleanupAgents, runCli, startAgent } from './harness.ts'

const MESH_TOKEN = 'portal-test-mesh-token-0123456789'

afterAll(async () => {
  await cleanupAgents()
  await stopCluster()
})

describe.each(BACKENDS)('node activation on %s', (backend) => {
  let t: TestPortal
  let agent: AgentProcess
  let owner: PortalClient
  let ownerId: string
  /** Every body the portal answered in this file, to look for secrets in. */
  const seen: string[] = []

  const record = (c: PortalClient) => {
    const call = c.call.bind(c)
    c.call = async (...args) => {
      const res = await call(...args)
      const copy = res.clone()
      seen.push(JSON.stringify([...res.headers]) + (await copy.text()))
      return res
    }
    return c
  }
  const enroll = (code: string, dataDir: string, extra: string[] = []) =>
    runCli(['enroll', '--portal', t.ready.publicUrl, '--code', code, '--data-dir', dataDir, ...extra])

  beforeAll(async () => {
    t = await startTestPortal(backend, {
      args: [
        '--admin',
        'admin@example.org',
        '--seed',
        '/dns4/seed.example/tcp/4001/p2p/12D3KooWSeedSeedSeedSeedSeedSeedSeedSeedSeedSeedSe',
      ],
    })
    agent = await startAgent({ args: ['--mesh-token', MESH_TOKEN] })
    owner = record(new PortalClient(t))
    ownerId = await owner.signUpWithPasskey(t, 'owner@example.org')
  })
  afterAll(async () => {
    await agent?.stop()
    await t?.stop()
  })

  it('activates a running agent through `edgecoder enroll`: the node signs the challenge, the portal signs its certificate', async () => {
    const code = await owner.json('POST', '/nodes/enrollment-codes', { json: { roles: ['worker'] } })
    expect(code.status).toBe(201)
    const out = await enroll(code.body.code, agent.dataDir)
    expect(out.code, out.stderr).toBe(0)
    expect(out.stdout).toContain(`activated ${agent.ready.peerId}`)
    const saved = JSON.parse(readFileSync(join(agent.dataDir, 'activation.json'), 'utf8'))
    const verdict = await verifyActivation(saved.certificate, {
      portalKey: t.ready.publicKey,
      peerId: agent.ready.peerId,
    })
    expect(verdict.ok).toBe(true)
    expect(saved.certificate).toMatchObject({ accountId: ownerId, roles: ['worker'], issuer: t.ready.peerId })
    const nodes = await owner.json('GET', '/nodes')
    expect(nodes.body.nodes).toEqual([
      expect.objectContaining({ peerId: agent.ready.peerId, revokedAt: null }),
    ])
    // A code works once.
    const again = await enroll(code.body.code, agent.dataDir)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('403')
  })

  it('never lets another account take over a node id that is already bound', async () => {
    const mallory = record(new PortalClient(t))
    await mallory.signUpWithPasskey(t, 'mallory@example.org')
    const code = await mallory.json('POST', '/nodes/enrollment-codes', { json: {} })
    // Even holding the node's key (a stolen or copied data dir), the binding stays with its owner.
    const out = await enroll(code.body.code, agent.dataDir)
    expect(out.code).toBe(1)
    expect(out.stderr).toContain('409')
    expect((await mallory.json('GET', '/nodes')).body.nodes).toEqual([])
    expect((await owner.json('GET', '/nodes')).body.nodes).toHaveLength(1)
  })

  it('refuses an enrollment signed by a key other than the peer id claims', async () => {
    const code = await owner.json('POST', '/nodes/enrollment-codes', { json: {} })
    const victim = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const attacker = await generateKeyPair('Ed25519')
    const ch = await owner.json('POST', '/enroll/challenge', {
      json: { code: code.body.code, peerId: victim },
      origin: null,
    })
    expect(ch.status).toBe(200)
    const proof = enrollProof({
      challengeId: ch.body.challengeId,
      nonce: ch.body.nonce,
      peerId: victim,
      portalPeerId: ch.body.portalPeerId,
    })
    const sig = await attacker.sign(new TextEncoder().encode(canonicalJson(proof)))
    const res = await owner.json('POST', '/enroll/complete', {
      json: {
        challengeId: ch.body.challengeId,
        peerId: victim,
        signature: Buffer.from(sig).toString('base64url'),
      },
      origin: null,
    })
    expect(res.status).toBe(403)
    expect(res.body.error.code).toBe('bad_signature')
  })

  it('a certificate from another key, for another peer, or expired does not verify', async () => {
    const saved = JSON.parse(readFileSync(join(agent.dataDir, 'activation.json'), 'utf8'))
    const other = new PortalKey(await generateKeyPair('Ed25519'))
    const { signature: _, ...unsigned } = saved.certificate
    const forged = await other.sign(unsigned)
    expect(
      await verifyActivation(forged, { portalKey: t.ready.publicKey, peerId: agent.ready.peerId }),
    ).toEqual({
      ok: false,
      reason: 'bad-signature',
    })
    expect(
      await verifyActivation(
        { ...saved.certificate, roles: ['worker', 'coordinator'] },
        { portalKey: t.ready.publicKey, peerId: agent.ready.peerId },
      ),
    ).toEqual({ ok: false, reason: 'bad-signature' })
    expect(
      await verifyActivation(saved.certificate, { portalKey: t.ready.publicKey, peerId: '12D3KooWother' }),
    ).toEqual({
      ok: false,
      reason: 'wrong-peer',
    })
    expect(
      await verifyActivation(saved.certificate, {
        portalKey: t.ready.publicKey,
        peerId: agent.ready.peerId,
        now: saved.certificate.expiresAt,
      }),
    ).toEqual({ ok: false, reason: 'expired' })
  })

  it('lists coordinators only once an admin approves them, after the seed', async () => {
    const coord = await startAgent({ args: ['--mode', 'coordinator'] })
    try {
      const code = await owner.json('POST', '/nodes/enrollment-codes', { json: { roles: ['coordinator'] } })
      const out = await enroll(code.body.code, coord.dataDir, [
        '--public-addr',
        '/dns4/coord.example/tcp/4001',
      ])
      expect(out.code, out.stderr).toBe(0)
      const before = await owner.json('GET', '/network/coordinators')
      expect(before.body.coordinators.map((c: { peerId: string }) => c.peerId)).toEqual([
        '12D3KooWSeedSeedSeedSeedSeedSeedSeedSeedSeedSeedSe',
      ])
      const notAdmin = await owner.json('POST', `/admin/coordinators/${coord.ready.peerId}/approve`)
      expect(notAdmin.status).toBe(403)
      const admin = record(new PortalClient(t))
      await admin.signUpWithPasskey(t, 'admin@example.org')
      const pending = await admin.json('GET', '/admin/coordinators')
      expect(pending.body.coordinators).toEqual([
        { peerId: coord.ready.peerId, addrs: ['/dns4/coord.example/tcp/4001'], approved: false },
      ])
      expect((await admin.call('POST', `/admin/coordinators/${coord.ready.peerId}/approve`)).status).toBe(204)
      const after = await owner.json('GET', '/network/coordinators')
      expect(after.body.coordinators[1]).toEqual({
        peerId: coord.ready.peerId,
        addrs: ['/dns4/coord.example/tcp/4001'],
        region: null,
      })
    } finally {
      await coord.stop()
    }
  })

  it('revokes a node: renewal is refused and the signed revocation list names it', async () => {
    expect((await owner.call('DELETE', `/nodes/${agent.ready.peerId}`)).status).toBe(204)
    const list = await owner.json('GET', '/activation/revocations')
    expect(list.body.revoked).toContain(agent.ready.peerId)
    const { signature, ...unsigned } = list.body
    const key = (await import('@libp2p/crypto/keys')).publicKeyFromRaw(
      Buffer.from(t.ready.publicKey, 'base64url'),
    )
    expect(
      await key.verify(
        new TextEncoder().encode(canonicalJson(unsigned)),
        Buffer.from(signature, 'base64url'),
      ),
    ).toBe(true)
    const renew = await runCli(['activation', 'renew', '--data-dir', agent.dataDir])
    expect(renew.code).toBe(1)
    expect(renew.stderr).toContain('not_active')
  })

  it('puts no secret in any response: mesh token, keys, session ids, link tokens', async () => {
    const apiToken = readFileSync(join(agent.dataDir, 'api-token'), 'utf8').trim()
    const nodeKey = readFileSync(join(agent.dataDir, 'identity.key')).toString('base64url')
    const portalKey = readFileSync(join(t.dataDir, 'portal.key')).toString('base64url')
    const session = owner.cookies.get('edgecoder_session')!
    const all = seen.join('\n')
    expect(seen.length).toBeGreaterThan(10)
    for (const secret of [MESH_TOKEN, apiToken, nodeKey.slice(8, 40), portalKey.slice(8, 40)]) {
      expect(all).not.toContain(secret)
    }
    // The session id is set once as a cookie; no body ever echoes it.
    expect(seen.filter((s) => s.includes(session)).every((s) => s.includes('set-cookie'))).toBe(true)
  })
})
