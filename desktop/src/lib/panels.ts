/** The six panels of the operator UI, and the agent route each one reads. */
export interface Panel {
  id: string
  title: string
  /** The route the panel is built on, read to tell the operator whether this node serves it. */
  route: string
  summary: string
}

export const PANELS: Panel[] = [
  {
    id: 'dashboard',
    title: 'Dashboard',
    route: '/status',
    summary: 'Agent status, model, uptime, tasks and earnings',
  },
  {
    id: 'mesh',
    title: 'Mesh Topology',
    route: '/mesh/peers',
    summary: 'Connected peers, their models, regions and load',
  },
  { id: 'models', title: 'Model Manager', route: '/model/list', summary: 'Pull, swap and remove models' },
  {
    id: 'credits',
    title: 'Credits & Wallet',
    route: '/credits/balance',
    summary: 'Balance, history and withdrawals',
  },
  { id: 'tasks', title: 'Task Queue', route: '/tasks', summary: 'Active, completed and failed tasks' },
  {
    id: 'settings',
    title: 'Settings',
    route: '/orchestration/settings',
    summary: 'Mesh token, power policy, concurrency, coordinator role',
  },
]

export function panelFromHash(hash: string): Panel {
  const id = hash.replace(/^#\/?/, '')
  return PANELS.find((p) => p.id === id) ?? PANELS[0]!
}
