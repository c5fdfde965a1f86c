import type { PowerPolicy } from '../types.ts'

/** A mesh token as the panel shows it by default: its length and last four characters, no more. */
export function maskToken(token: string | null): string {
  if (token === null) return 'none — this node is on the public mesh'
  return `${'•'.repeat(Math.min(12, Math.max(4, token.length - 4)))}${token.slice(-4)}`
}

export function describePolicy(p: PowerPolicy): string {
  if (p.mode !== 'schedule') return p.mode === 'always' ? 'always' : 'only while the machine is idle'
  return `from ${hour(p.hours.start)} to ${hour(p.hours.end)}${p.hours.start === p.hours.end ? ' (all day)' : ''}`
}

export function hour(h: number): string {
  return `${String(h).padStart(2, '0')}:00`
}

/** Whether this UI runs on macOS (the Bluetooth toggle is offered there only). */
export function onMacOS(userAgent: string): boolean {
  return /Macintosh|Mac OS X/.test(userAgent)
}

/** A bootstrap address as the agent accepts it, or why not (checked again by the agent). */
export function bootstrapProblem(addr: string): string | null {
  if (!addr.startsWith('/')) return 'a multiaddr starts with "/", e.g. /ip4/192.0.2.7/tcp/4001/p2p/12D3Koo…'
  if (!/\/p2p\/[1-9A-HJ-NP-Za-km-z]{32,64}$/.test(addr))
    return 'it must end in /p2p/<peer id> of the node to join through'
  return null
}
