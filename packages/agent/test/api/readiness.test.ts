import { Readyz } from '@edgecoder/protocol'
import { describe, expect, it } from 'vitest'
import { readiness } from '../../src/api/routes/health.ts'

describe('readiness', () => {
  it('is ready once every part has started, with no model check on a node that loads none', () => {
    expect(readiness('started', true, null)).toEqual({ status: 'ready', checks: { store: true, api: true } })
  })

  it('says loading, with a failed model check, while the served model loads', () => {
    const r = readiness('started', true, 'loading')
    expect(r).toEqual({ status: 'loading', checks: { store: true, api: true, model: false } })
    expect(Readyz.parse(r)).toEqual(r)
  })

  it('is ready with a passing model check once the model is in memory', () => {
    expect(readiness('started', true, 'loaded')).toEqual({
      status: 'ready',
      checks: { store: true, api: true, model: true },
    })
  })

  it('stays ready when the model failed to load, and says so in the model check', () => {
    expect(readiness('started', true, 'failed')).toEqual({
      status: 'ready',
      checks: { store: true, api: true, model: false },
    })
  })

  it('reports starting and stopping whatever the model does', () => {
    expect(readiness('starting', true, 'loaded').status).toBe('starting')
    expect(readiness('stopping', true, 'loading').status).toBe('stopping')
  })
})
