import { describe, expect, it } from 'vitest'
import { bootstrapProblem, describePolicy, maskToken, onMacOS } from './format.ts'

describe('settings format', () => {
  it('masks a token down to its last four characters', () => {
    expect(maskToken('a-private-mesh-token-1234')).toBe('••••••••••••1234')
    expect(maskToken('a-private-mesh-token-1234')).not.toContain('private')
    expect(maskToken(null)).toContain('public mesh')
  })
  it('describes power policies, a schedule with its hours', () => {
    expect(describePolicy({ mode: 'schedule', hours: { start: 22, end: 6 } })).toBe('from 22:00 to 06:00')
    expect(describePolicy({ mode: 'idle-only' })).toContain('idle')
  })
  it('tells macOS apart', () => {
    expect(onMacOS('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15')).toBe(true)
    expect(onMacOS('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36')).toBe(false)
  })
  it('says what is wrong with a bootstrap address', () => {
    expect(
      bootstrapProblem('/ip4/1.2.3.4/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'),
    ).toBeNull()
    expect(bootstrapProblem('1.2.3.4:4001')).toContain('starts with "/"')
    expect(bootstrapProblem('/ip4/1.2.3.4/tcp/1')).toContain('/p2p/<peer id>')
  })
})
