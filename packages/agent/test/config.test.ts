import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.ts'

describe('flag values that begin with a dash', () => {
  const base = ['--data-dir', '/tmp/x']
  // One base64url key in 64 begins with '-'.
  const dashKey = `-${'A'.repeat(42)}`

  it('takes a key beginning with a dash as the value of --grant-key and --portal-key', () => {
    const config = loadConfig(
      [...base, '--grant-key', dashKey, '--portal-key', dashKey, '--grant-key', 'B'.repeat(43)],
      {},
    )
    expect(config.grantKeys).toEqual([dashKey, 'B'.repeat(43)])
    expect(config.portalKey).toBe(dashKey)
  })

  it('still reads the next flag as a flag, not as the value', () => {
    expect(() => loadConfig([...base, '--grant-key', '--portal-key', 'A'.repeat(43)], {})).toThrow(
      ConfigError,
    )
  })

  it('leaves a boolean flag before a dashed word alone, so the word is refused', () => {
    expect(() => loadConfig([...base, '--dev-origins', '-x'], {})).toThrow(ConfigError)
  })
})
