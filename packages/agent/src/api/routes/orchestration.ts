import { OrchestrationSettings, OrchestrationSettingsPatch, SettingKey } from '@edgecoder/protocol'
import { z } from 'zod'
import { SettingRefusedError, type SettingsStore } from '../../settings/index.ts'
import { ApiError } from '../errors.ts'
import type { RouteModule } from '../server.ts'

/** Settings the UI may read and change at run time; every change is persisted before it answers. */
export const orchestrationRoutes =
  (settings: SettingsStore): RouteModule =>
  (app) => {
    app.get(
      '/orchestration/settings',
      { schema: { summary: 'All run-time settings', response: { 200: OrchestrationSettings } } },
      async () => settings.get(),
    )
    app.put(
      '/orchestration/settings',
      {
        schema: {
          summary: 'Change one or more settings (partial)',
          body: OrchestrationSettingsPatch,
          response: { 200: OrchestrationSettings },
        },
      },
      async (req) => applied(() => settings.update(req.body)),
    )
    app.get(
      '/orchestration/settings/:key',
      {
        schema: {
          summary: 'One setting',
          params: z.object({ key: SettingKey }),
          response: { 200: z.object({ key: SettingKey, value: z.unknown() }) },
        },
      },
      async (req) => ({ key: req.params.key, value: settings.get()[req.params.key] }),
    )
    app.put(
      '/orchestration/settings/:key',
      {
        schema: {
          summary: 'Change one setting: body {"value": ...}',
          params: z.object({ key: SettingKey }),
          body: z.object({ value: z.unknown() }).strict(),
          response: { 200: z.object({ key: SettingKey, value: z.unknown() }) },
        },
      },
      async (req) => {
        const key = req.params.key
        const check = OrchestrationSettings.shape[key].safeParse(req.body.value)
        if (!check.success) {
          const issue = check.error.issues[0]!
          throw new ApiError(400, 'invalid_request', `body.value: ${issue.message}`, {
            issues: check.error.issues,
          })
        }
        const next = applied(() => settings.update({ [key]: check.data }))
        return { key, value: next[key] }
      },
    )
  }

/** A change a part of the node refused: 409, nothing written. */
function applied<T>(change: () => T): T {
  try {
    return change()
  } catch (err) {
    if (err instanceof SettingRefusedError) throw new ApiError(409, 'setting_refused', err.message)
    throw err
  }
}
