import { describe, expect, it } from 'vitest'
import { PANELS, panelFromHash } from './panels.ts'

describe('panelFromHash', () => {
  it('finds each of the six panels by its hash', () => {
    expect(PANELS.map((p) => p.title)).toEqual([
      'Dashboard',
      'Mesh Topology',
      'Model Manager',
      'Credits & Wallet',
      'Task Queue',
      'Settings',
    ])
    expect(panelFromHash('#/mesh').title).toBe('Mesh Topology')
  })
  it('falls back to the Dashboard for an empty or unknown hash', () => {
    expect(panelFromHash('').id).toBe('dashboard')
    expect(panelFromHash('#/nope').id).toBe('dashboard')
  })
})
