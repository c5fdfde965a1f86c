import { EventEmitter } from 'node:events'
import { OrchestrationSettings, type OrchestrationSettingsPatch } from '@edgecoder/protocol'
import type { Store } from '../store/index.ts'

export const DEFAULT_SETTINGS: OrchestrationSettings = {
  maxConcurrentTasks: 2,
  powerPolicy: { mode: 'always' },
  coordinatorRole: true,
  meshToken: null,
  region: null,
  contributing: true,
  bootstrapPeers: [],
  provider: 'auto',
}

/** A change a part of the node can't take now (e.g. a provider it has no address for); nothing was written. */
export class SettingRefusedError extends Error {
  override name = 'SettingRefusedError'
}

/** Says why `next` can't be applied, or null; `changed` names the keys that differ. */
export type SettingCheck = (next: OrchestrationSettings, changed: string[]) => string | null

const MIGRATIONS = {
  module: 'settings',
  steps: ['CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL)'],
}

/**
 * Orchestration settings, persisted per key. Emits `change` with the new settings and the keys
 * that changed, so the parts that depend on them (queue, mesh, adverts) can follow at run time.
 */
export class SettingsStore extends EventEmitter<{ change: [OrchestrationSettings, string[]] }> {
  #current: OrchestrationSettings
  readonly #checks: SettingCheck[] = []
  private readonly store: Store

  constructor(store: Store, overrides: Partial<OrchestrationSettings>) {
    super()
    this.store = store
    store.migrate(MIGRATIONS)
    const saved: Record<string, unknown> = {}
    for (const row of store.db.prepare('SELECT key, value FROM settings').all() as {
      key: string
      value: string
    }[]) {
      saved[row.key] = JSON.parse(row.value)
    }
    const merged = { ...DEFAULT_SETTINGS, ...saved }
    // A stored value that no longer validates (older version, hand edit) falls back to its default.
    const parsed = OrchestrationSettings.safeParse(merged)
    this.#current = parsed.success ? parsed.data : { ...DEFAULT_SETTINGS }
    const explicit = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined))
    if (Object.keys(explicit).length > 0) this.update(explicit)
  }

  /** A part that must agree to a change before it is written. */
  addCheck(check: SettingCheck): void {
    this.#checks.push(check)
  }

  get(): OrchestrationSettings {
    return structuredClone(this.#current)
  }

  /** Validates the whole result before anything is written: a bad patch changes nothing. */
  update(patch: OrchestrationSettingsPatch): OrchestrationSettings {
    const next = OrchestrationSettings.parse({ ...this.#current, ...patch })
    const changed = Object.keys(patch).filter(
      (k) =>
        JSON.stringify(next[k as keyof OrchestrationSettings]) !==
        JSON.stringify(this.#current[k as keyof OrchestrationSettings]),
    )
    if (changed.length === 0) return this.get()
    for (const check of this.#checks) {
      const why = check(next, changed)
      if (why !== null) throw new SettingRefusedError(why)
    }
    const now = new Date().toISOString()
    const put = this.store.db.prepare(
      'INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
    )
    this.store.transaction(() => {
      for (const k of changed) put.run(k, JSON.stringify(next[k as keyof OrchestrationSettings]), now)
    })
    this.#current = next
    this.emit('change', this.get(), changed)
    return this.get()
  }
}

/** Whether the power policy lets this node take work now. `idle` is the machine's idle state. */
export function policyAllowsWork(s: OrchestrationSettings, now: Date, idle: boolean): boolean {
  if (!s.contributing) return false
  const p = s.powerPolicy
  if (p.mode === 'always') return true
  if (p.mode === 'idle-only') return idle
  const h = now.getHours()
  // A window may wrap midnight (22 -> 6); start == end means all day.
  if (p.hours.start === p.hours.end) return true
  return p.hours.start < p.hours.end
    ? h >= p.hours.start && h < p.hours.end
    : h >= p.hours.start || h < p.hours.end
}
