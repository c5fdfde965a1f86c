import type { OrchestrationSettings, SupervisorSnapshot } from './types.ts'

/** What the Dashboard's headline says about the node. */
export type NodeState =
  | 'connecting'
  | 'starting'
  | 'running'
  | 'paused'
  | 'restarting'
  | 'stopped'
  | 'unreachable'

/** The shell's supervisor knows the process; the event stream knows the API answers. */
export function nodeState(
  supervisor: SupervisorSnapshot | null,
  live: boolean,
  settings: OrchestrationSettings | null,
  lastError: string | null,
): NodeState {
  if (supervisor && supervisor.phase !== 'running')
    return supervisor.phase === 'stopping' ? 'stopped' : supervisor.phase
  if (live) return settings?.contributing === false ? 'paused' : 'running'
  if (lastError) return 'unreachable'
  return supervisor?.phase === 'running' ? 'starting' : 'connecting'
}
