import { describe, expect, it } from 'vitest'
import { formatCredits, formatUptime, plural, shortPeerId } from './format.ts'

describe('formatUptime', () => {
  it('shows the two largest units', () => {
    expect(formatUptime(12.9)).toBe('12s')
    expect(formatUptime(249)).toBe('4m 09s')
    expect(formatUptime(7_500)).toBe('2h 05m')
    expect(formatUptime(3 * 86_400 + 4 * 3_600 + 59)).toBe('3d 4h')
  })
  it('never shows a negative uptime', () => {
    expect(formatUptime(-5)).toBe('0s')
  })
})

describe('formatCredits', () => {
  it('groups thousands and keeps at most two decimals', () => {
    expect(formatCredits(0)).toBe('0')
    expect(formatCredits(12345.678)).toBe('12,345.68')
  })
})

describe('shortPeerId', () => {
  it('keeps the head and tail of a long id', () => {
    expect(shortPeerId('12D3KooWNuUGaE4hG71vgrWneQfUskaz9mdSLZzWqVUx8mGRrfxE')).toBe('12D3KooWNu…rfxE')
    expect(shortPeerId('short')).toBe('short')
  })
})

describe('plural', () => {
  it('adds an s except for one', () => {
    expect(plural(1, 'peer')).toBe('1 peer')
    expect(plural(0, 'peer')).toBe('0 peers')
  })
})
