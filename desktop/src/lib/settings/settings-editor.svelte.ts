import type { AgentConnection } from '../agent.svelte.ts'
import type { OrchestrationSettings } from '../types.ts'

export interface SettingNote {
  key: string
  ok: boolean
  text: string
}

/**
 * Applies settings through the agent and says what happened, per setting: the agent applies
 * each change at once, so a saved change is a live one.
 */
export class SettingsEditor {
  saving = $state<string | null>(null)
  note = $state<SettingNote | null>(null)

  readonly #agent: () => AgentConnection

  constructor(agent: () => AgentConnection) {
    this.#agent = agent
  }

  get agent(): AgentConnection {
    return this.#agent()
  }

  async apply(key: string, change: Partial<OrchestrationSettings>, applied: string): Promise<boolean> {
    return this.run(key, applied, async () => {
      this.agent.settings = await this.agent.api.updateSettings(change)
    })
  }

  /** Runs `action` under `key`'s name; its error becomes the note, with what to do. */
  async run(key: string, applied: string, action: () => Promise<void>): Promise<boolean> {
    this.saving = key
    try {
      await action()
      this.note = { key, ok: true, text: `${applied} — applied now, no restart needed.` }
      return true
    } catch (err) {
      this.note = { key, ok: false, text: `Not changed: ${(err as Error).message}` }
      return false
    } finally {
      this.saving = null
    }
  }

  noteFor(key: string): SettingNote | null {
    return this.note?.key === key ? this.note : null
  }
}
