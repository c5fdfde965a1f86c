import { decodeInvite, INVITE_PREFIX } from '@edgecoder/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, runCli, waitFor } from './harness.ts'
import { peersOf, startMeshAgent, tcpAddr, waitForMesh } from './mesh-helpers.ts'

const TOKEN = 'invite-mesh-token-0123456789'

afterAll(cleanupAgents)

const settingsOf = async (a: AgentProcess) =>
  (await (await a.api('/orchestration/settings')).json()) as Record<string, unknown>
const sees = async (a: AgentProcess, b: AgentProcess) =>
  (await peersOf(a)).some((p) => p.peerId === b.ready.peerId && p.state === 'online')

describe('invites', () => {
  /** The inviting node: a private mesh of one. */
  let a: AgentProcess
  beforeAll(async () => {
    a = await startMeshAgent(['--mesh-token', TOKEN])
  })

  it('has no invite on the public mesh, and says how to get one', async () => {
    const open = await startMeshAgent()
    const res = await open.api('/orchestration/invite')
    expect(res.status).toBe(409)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('public_mesh')
    expect(body.error.message).toContain('set a mesh token first')
    const cli = await runCli(['invite', '--api-url', open.apiUrl])
    expect(cli.code).toBe(1)
    expect(cli.stderr).toContain('set a mesh token first')
    await open.stop()
  })

  it('prints one line holding the mesh token and the node’s addresses (`edgecoder invite`)', async () => {
    const out = await runCli(['invite', '--api-url', a.apiUrl])
    expect(out.code, out.stderr).toBe(0)
    const line = out.stdout.trim()
    expect(line.split('\n')).toHaveLength(1)
    expect(line.startsWith(INVITE_PREFIX)).toBe(true)
    const invite = decodeInvite(line)
    expect(invite.token).toBe(TOKEN)
    expect(invite.addrs).toContain(tcpAddr(a))
    for (const addr of invite.addrs) expect(addr.endsWith(`/p2p/${a.ready.peerId}`)).toBe(true)
  })

  it('joins that private mesh with `start --join`, kept in its settings', async () => {
    const line = (await runCli(['invite', '--api-url', a.apiUrl])).stdout.trim()
    const b = await startMeshAgent(['--join', line])
    await waitForMesh([a, b], () => sees(b, a), 15_000)
    await waitForMesh([a, b], () => sees(a, b), 15_000)
    const s = await settingsOf(b)
    expect(s.meshToken).toBe(TOKEN)
    expect(s.bootstrapPeers).toEqual(decodeInvite(line).addrs)
    await b.stop()
  })

  it('joins at run time through POST /orchestration/join: token and entry points applied live', async () => {
    const { invite } = (await (await a.api('/orchestration/invite')).json()) as { invite: string }
    const c = await startMeshAgent()
    expect(await peersOf(c)).toEqual([])
    const check = await c.api('/orchestration/invite/check', { method: 'POST', json: { invite } })
    expect(await check.json()).toEqual({
      peerId: a.ready.peerId,
      addrs: decodeInvite(invite).addrs,
      sameMesh: false,
    })
    expect((await settingsOf(c)).meshToken).toBeNull()
    const res = await c.api('/orchestration/join', { method: 'POST', json: { invite } })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { meshToken: string }).meshToken).toBe(TOKEN)
    await waitForMesh([a, c], () => sees(c, a), 15_000)
    await c.stop()
  })

  it('dials bootstrap peers set at run time without a restart', async () => {
    const d = await startMeshAgent(['--mesh-token', TOKEN])
    expect(await sees(d, a)).toBe(false)
    const res = await d.api('/orchestration/settings', {
      method: 'PUT',
      json: { bootstrapPeers: [tcpAddr(a)] },
    })
    expect(res.status).toBe(200)
    await waitFor(() => sees(d, a), 15_000, 100)
    const bad = await d.api('/orchestration/settings', {
      method: 'PUT',
      json: { bootstrapPeers: ['/ip4/1.2.3.4/tcp/1'] },
    })
    expect(bad.status).toBe(400)
    expect((await settingsOf(d)).bootstrapPeers).toEqual([tcpAddr(a)])
    await d.stop()
  })

  it('refuses a malformed invite with a clear error and changes nothing', async () => {
    const e = await startMeshAgent()
    const before = await settingsOf(e)
    const { invite } = (await (await a.api('/orchestration/invite')).json()) as { invite: string }
    for (const [line, want] of [
      ['not an invite', 'not an EdgeCoder invite'],
      [invite.slice(0, -10), 'damaged'],
      [invite.replace('invite1.', 'invite9.'), 'format version 9'],
    ] as const) {
      for (const path of ['/orchestration/join', '/orchestration/invite/check']) {
        const res = await e.api(path, { method: 'POST', json: { invite: line } })
        expect(res.status).toBe(400)
        const body = (await res.json()) as { error: { code: string; message: string } }
        expect(body.error.code).toBe('invalid_invite')
        expect(body.error.message).toContain(want)
      }
    }
    const own = await a.api('/orchestration/join', { method: 'POST', json: { invite } })
    expect(((await own.json()) as { error: { code: string } }).error.code).toBe('own_invite')
    expect(await settingsOf(e)).toEqual(before)
    const cli = await runCli(['start', '--join', 'edgecoder-invite1.!!', '--data-dir', e.dataDir])
    expect(cli.code).toBe(1)
    expect(cli.stderr).toContain('invalid setting --join (EDGECODER_JOIN): the invite is damaged')
    const other = await runCli(['start', '--join', invite, '--mesh-token', 'another-token-0123456789'])
    expect(other.code).toBe(1)
    expect(other.stderr).toContain('the invite is for another mesh than --mesh-token')
    await e.stop()
  })
})
