// Kept apart from the shell's IPC so the rule below is testable without the shell.

/** Where the packaged agent listens; the window's CSP allows exactly this origin. */
const PACKAGED_API = 'http://127.0.0.1:4301'
const DEV_SERVER_PORT = '1420'

export const inDesktopShell: boolean = typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window

/** The agent API's base URL for this page. */
export function apiBaseUrl(location: Pick<Location, 'origin' | 'port'> = window.location): string {
  // Inside the shell and on the dev server the agent is elsewhere; served at /ui it is this origin.
  if (inDesktopShell || location.port === DEV_SERVER_PORT) return PACKAGED_API
  return location.origin
}
