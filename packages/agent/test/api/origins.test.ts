import { describe, expect, it } from 'vitest'
import { APP_ORIGINS, DEV_ORIGINS, OriginPolicy } from '../../src/api/index.ts'
import { ConfigError, loadConfig } from '../../src/config.ts'

describe('OriginPolicy', () => {
  it('trusts the packaged app and not the dev server by default', () => {
    const policy = new OriginPolicy(APP_ORIGINS)
    expect(policy.has('tauri://localhost')).toBe(true)
    for (const dev of DEV_ORIGINS) expect(policy.has(dev)).toBe(false)
    expect(policy.has('http://localhost:1421')).toBe(false)
  })

  it('matches wildcards where the operator put them, and nothing around them', () => {
    const policy = new OriginPolicy(['http://localhost:*', 'chrome-extension://*', 'https://ide.example'])
    expect(policy.has('http://localhost:5173')).toBe(true)
    expect(policy.has('chrome-extension://abcdef')).toBe(true)
    expect(policy.has('https://ide.example')).toBe(true)
    expect(policy.has('https://ide.example.evil')).toBe(false)
    expect(policy.has('http://localhost.evil:80')).toBe(false)
    expect(policy.has('https://localhost:5173')).toBe(false)
  })
})

describe('origin settings', () => {
  const base = ['--data-dir', '/tmp/x']

  it('reads --allowed-origins and EDGECODER_ALLOWED_ORIGINS, and the dev flag', () => {
    const flags = loadConfig([...base, '--allowed-origins', 'http://localhost:*', '--dev-origins'], {})
    expect(flags.allowedOrigins).toEqual(['http://localhost:*'])
    expect(flags.devOrigins).toBe(true)
    const env = loadConfig(base, { EDGECODER_ALLOWED_ORIGINS: 'https://a.example, app://x' })
    expect(env.allowedOrigins).toEqual(['https://a.example', 'app://x'])
    expect(env.devOrigins).toBe(false)
  })

  it('does not take OLLAMA_ORIGINS: it was meant for another program', () => {
    expect(loadConfig(base, { OLLAMA_ORIGINS: '*' }).allowedOrigins).toEqual([])
  })

  it('refuses an origin with a path, naming the flag', () => {
    expect(() => loadConfig([...base, '--allowed-origins', 'https://a.example/page'], {})).toThrow(
      ConfigError,
    )
    expect(() => loadConfig([...base, '--allowed-origins', 'https://a.example/page'], {})).toThrow(
      /--allowed-origins/,
    )
  })
})
