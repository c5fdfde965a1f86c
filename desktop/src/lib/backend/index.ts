/**
 * The only module that knows about the desktop shell. In a plain browser (the agent's /ui, the
 * dev server, tests) every function here degrades to "no shell": the UI talks to the agent
 * over HTTP either way.
 */
import { invoke } from '@tauri-apps/api/core'
import { listen, type UnlistenFn } from '@tauri-apps/api/event'
import type { AgentLogLine, SupervisorSnapshot } from '../types.ts'
import { inDesktopShell } from './api-base.ts'

export { apiBaseUrl, inDesktopShell } from './api-base.ts'

interface AgentView {
  apiUrl: string
  snapshot: SupervisorSnapshot | null
}

export async function supervisorState(): Promise<AgentView | null> {
  if (!inDesktopShell) return null
  return invoke<AgentView>('agent_state')
}

export async function recentAgentLogs(): Promise<AgentLogLine[]> {
  if (!inDesktopShell) return []
  return invoke<AgentLogLine[]>('agent_logs')
}

export async function restartAgent(): Promise<void> {
  if (inDesktopShell) await invoke('restart_agent')
}

/** Tells the shell the Dashboard shows a running agent (it logs the time since launch). */
export async function reportDashboardShown(): Promise<void> {
  if (inDesktopShell) await invoke('dashboard_shown')
}

/**
 * Opens a page in the system browser, where the user's passkeys are (the app's webview has
 * none). Outside the shell a plain link with `target="_blank"` does this; call it only in the shell.
 */
export async function openExternal(url: string): Promise<void> {
  if (inDesktopShell) await invoke('open_external', { url })
  else window.open(url, '_blank', 'noopener,noreferrer')
}

const noop: UnlistenFn = () => {}

export async function onSupervisorSnapshot(fn: (s: SupervisorSnapshot) => void): Promise<UnlistenFn> {
  if (!inDesktopShell) return noop
  return listen<SupervisorSnapshot>('agent://snapshot', (e) => fn(e.payload))
}

export async function onAgentLog(fn: (line: AgentLogLine) => void): Promise<UnlistenFn> {
  if (!inDesktopShell) return noop
  return listen<AgentLogLine>('agent://log', (e) => fn(e.payload))
}
