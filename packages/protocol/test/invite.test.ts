import { describe, expect, it } from 'vitest'
import { decodeInvite, encodeInvite, INVITE_PREFIX, InviteError } from '../src/index.ts'

const ADDR = '/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const INVITE = { token: 'a-private-mesh-token-123', addrs: [ADDR] }

function refused(line: string): string {
  try {
    decodeInvite(line)
  } catch (err) {
    expect(err).toBeInstanceOf(InviteError)
    return (err as Error).message
  }
  throw new Error('the line was read as an invite')
}

describe('invite', () => {
  it('is one line with a versioned prefix that reads back to the token and addresses', () => {
    const line = encodeInvite(INVITE)
    expect(line.startsWith(INVITE_PREFIX)).toBe(true)
    expect(line).toMatch(/^[\w.-]+$/)
    expect(decodeInvite(`  ${line}\n`)).toEqual(INVITE)
  })

  it('tells a foreign line, a newer version and a damaged body apart', () => {
    const line = encodeInvite(INVITE)
    expect(refused('')).toContain('empty')
    expect(refused('hello there')).toContain('not an EdgeCoder invite')
    expect(refused(line.replace('invite1.', 'invite2.'))).toContain('format version 2')
    expect(refused(`${line}$%`)).toContain('damaged')
    expect(refused(line.slice(0, line.length - 12))).toContain('damaged or cut short')
  })

  it('names the field an invite gets wrong', () => {
    const forge = (body: unknown) => INVITE_PREFIX + Buffer.from(JSON.stringify(body)).toString('base64url')
    expect(refused(forge({ ...INVITE, token: 'short' }))).toContain('token: a mesh token has at least 16')
    expect(refused(forge({ ...INVITE, addrs: [] }))).toContain('addrs: an invite names at least one address')
    expect(refused(forge({ ...INVITE, addrs: ['/ip4/1.2.3.4/tcp/1'] }))).toContain(
      'addrs.0: a bootstrap peer',
    )
    expect(refused(forge({ ...INVITE, extra: 1 }))).toContain('not valid')
    expect(() => encodeInvite({ token: 'short', addrs: [ADDR] })).toThrow()
  })
})
