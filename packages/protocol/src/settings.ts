import { z } from 'zod'

/** Hours of the day (0-23, local time) during which a `schedule` power policy contributes. */
export const ScheduleHours = z
  .object({
    start: z.number().int().min(0).max(23),
    end: z.number().int().min(0).max(23),
  })
  .strict()

export const PowerPolicy = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('always') }).strict(),
  z.object({ mode: z.literal('idle-only') }).strict(),
  z.object({ mode: z.literal('schedule'), hours: ScheduleHours }).strict(),
])
export type PowerPolicy = z.infer<typeof PowerPolicy>

/** A mesh token: the shared secret of a private mesh. Null means the public mesh. */
export const MeshToken = z
  .string()
  .min(16, 'a mesh token has at least 16 characters')
  .max(256)
  .regex(/^[\x21-\x7e]+$/, 'a mesh token is printable ASCII without spaces')

export const Region = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'a region is lowercase letters, digits and dashes, e.g. eu-west')

/** A peer to join through: a multiaddr that names the peer (`…/p2p/<peer id>`). */
export const BootstrapAddr = z
  .string()
  .max(512)
  .regex(
    /^\/[^\s]+\/p2p\/[1-9A-HJ-NP-Za-km-z]{32,64}$/,
    'a bootstrap peer is a multiaddr ending in /p2p/<peer id>',
  )

/** Which inference provider serves models: auto = Ollama when it answers, else embedded llama.cpp. */
export const ProviderChoice = z.enum(['auto', 'embedded', 'ollama', 'openai'])
export type ProviderChoice = z.infer<typeof ProviderChoice>

/** Settings an operator may change while the agent runs; persisted in the node's store. */
export const OrchestrationSettings = z
  .object({
    maxConcurrentTasks: z.number().int().min(1).max(256),
    powerPolicy: PowerPolicy,
    coordinatorRole: z.boolean(),
    meshToken: MeshToken.nullable(),
    region: Region.nullable(),
    contributing: z.boolean(),
    /** Entry points dialed besides `--bootstrap`, e.g. those of an invite; applied at once. */
    bootstrapPeers: z.array(BootstrapAddr).max(16),
    /** Switched at once; what runs on the old provider finishes there first. */
    provider: ProviderChoice,
  })
  .strict()
export type OrchestrationSettings = z.infer<typeof OrchestrationSettings>

export const OrchestrationSettingsPatch = OrchestrationSettings.partial()
  .strict()
  .refine((p) => Object.keys(p).length > 0, { message: 'give at least one setting to change' })
export type OrchestrationSettingsPatch = z.infer<typeof OrchestrationSettingsPatch>

export const SettingKey = z.enum([
  'maxConcurrentTasks',
  'powerPolicy',
  'coordinatorRole',
  'meshToken',
  'region',
  'contributing',
  'bootstrapPeers',
  'provider',
])
export type SettingKey = z.infer<typeof SettingKey>
