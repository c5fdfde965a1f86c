import { describe, expect, it } from 'vitest'
import { nodeState } from './node-state.ts'
import type { OrchestrationSettings, SupervisorSnapshot } from './types.ts'

const settings = (contributing: boolean): OrchestrationSettings => ({
  maxConcurrentTasks: 2,
  powerPolicy: { mode: 'always' },
  coordinatorRole: true,
  meshToken: null,
  region: null,
  contributing,
  bootstrapPeers: [],
  provider: 'auto',
})

const snap = (phase: SupervisorSnapshot['phase']): SupervisorSnapshot => ({
  phase,
  pid: 1,
  ready: null,
  restarts: 0,
  problem: null,
  restartAtMs: null,
})

describe('nodeState', () => {
  it('is running once the event stream is open and the node contributes', () => {
    expect(nodeState(null, true, settings(true), null)).toBe('running')
  })
  it('is paused when the node stopped contributing', () => {
    expect(nodeState(snap('running'), true, settings(false), null)).toBe('paused')
  })
  it("follows the shell's supervisor while the process is not up", () => {
    expect(nodeState(snap('starting'), false, null, null)).toBe('starting')
    expect(nodeState(snap('restarting'), true, settings(true), null)).toBe('restarting')
  })
  it('says unreachable when the process runs but its API cannot be read', () => {
    expect(nodeState(snap('running'), false, null, null)).toBe('starting')
    expect(nodeState(snap('running'), false, null, 'the agent is not answering')).toBe('unreachable')
  })
  it('says unreachable in a plain browser when the API does not answer', () => {
    expect(nodeState(null, false, null, 'the agent did not answer')).toBe('unreachable')
    expect(nodeState(null, false, null, null)).toBe('connecting')
  })
})
