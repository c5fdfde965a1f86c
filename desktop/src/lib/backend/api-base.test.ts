import { describe, expect, it } from 'vitest'
import { apiBaseUrl, inDesktopShell } from './api-base.ts'

describe('apiBaseUrl', () => {
  it('is outside the desktop shell under test', () => {
    expect(inDesktopShell).toBe(false)
  })
  it('talks to the same origin when the agent serves the UI at /ui', () => {
    expect(apiBaseUrl({ origin: 'http://10.0.0.5:4301', port: '4301' })).toBe('http://10.0.0.5:4301')
  })
  it('talks to the local agent from the dev server', () => {
    expect(apiBaseUrl({ origin: 'http://localhost:1420', port: '1420' })).toBe('http://127.0.0.1:4301')
  })
})
