import type { InviteView, OrchestrationSettings, RuntimeHealth, StatusSummary } from '@edgecoder/protocol'
import { SettingKey } from '@edgecoder/protocol'
import { ClientError, type ClientOptions, call } from './client.ts'
import { duration, pairs, table } from './format.ts'

type Out = (s: string) => void

export async function statusCommand(opts: ClientOptions, json: boolean, out: Out): Promise<void> {
  const [rt, st] = await Promise.all([
    call<RuntimeHealth>(opts, 'GET', '/health/runtime'),
    call<StatusSummary>(opts, 'GET', '/status'),
  ])
  if (json) return out(JSON.stringify({ runtime: rt, status: st }, null, 2))
  out(
    pairs([
      ['peer id', rt.peerId],
      ['mode', rt.mode],
      ['version', rt.version],
      ['uptime', duration(rt.uptimeSec)],
      ['api', rt.apiUrl],
      ['addresses', rt.addresses.join(' ') || '-'],
      ['reachability', rt.reachability],
      ['provider', rt.provider ? `${rt.provider.name} (${rt.provider.reason})` : '-'],
      ['model', rt.model ? `${rt.model.name}${rt.model.loaded ? ' (loaded)' : ''}` : '-'],
      ['peers', `${rt.peers.online} online / ${rt.peers.total} known`],
      ['contributing', st.contributing ? 'yes' : 'paused'],
      [
        'tasks',
        `${st.tasks.running} running, ${st.tasks.queued} queued, ${st.tasks.completed} done, ${st.tasks.failed} failed`,
      ],
      [
        'earnings',
        `${st.earnings.credits} credits (earned ${st.earnings.earned}, spent ${st.earnings.spent})`,
      ],
    ]),
  )
}

interface PeerRow {
  peerId: string
  state: string
  region: string | null
  models: { name: string }[]
  slots: { free: number; total: number } | null
  load: number | null
  rttMs: number | null
  lastSeen: string | null
  connection: string | null
}

export async function peersCommand(opts: ClientOptions, json: boolean, out: Out): Promise<void> {
  const res = await call<{ peers: PeerRow[] }>(opts, 'GET', '/mesh/peers')
  if (json) return out(JSON.stringify(res, null, 2))
  if (res.peers.length === 0) return out('no peers known yet')
  out(
    table(
      ['PEER', 'STATE', 'REGION', 'MODELS', 'SLOTS', 'LOAD', 'RTT', 'CONN', 'LAST SEEN'],
      res.peers.map((p) => [
        p.peerId,
        p.state,
        p.region,
        p.models.map((m) => m.name).join(',') || '-',
        p.slots ? `${p.slots.free}/${p.slots.total}` : null,
        p.load === null ? null : p.load.toFixed(2),
        p.rttMs === null ? null : `${Math.round(p.rttMs)}ms`,
        p.connection,
        p.lastSeen,
      ]),
    ),
  )
}

/** `edgecoder invite`: the one line another machine gives `edgecoder start --join` (or pastes in Settings). */
export async function inviteCommand(opts: ClientOptions, json: boolean, out: Out): Promise<void> {
  const v = await call<InviteView>(opts, 'GET', '/orchestration/invite')
  out(json ? JSON.stringify(v, null, 2) : v.invite)
}

export async function configCommand(
  opts: ClientOptions,
  args: string[],
  json: boolean,
  out: Out,
): Promise<void> {
  const [verb, key, ...rest] = args
  if (verb === 'get' || verb === undefined) {
    const s = await call<OrchestrationSettings>(opts, 'GET', '/orchestration/settings')
    if (key !== undefined) {
      const k = parseKey(key)
      return out(json ? JSON.stringify({ [k]: s[k] }) : formatValue(k, s[k]))
    }
    if (json) return out(JSON.stringify(s, null, 2))
    return out(pairs(Object.entries(s).map(([k, v]) => [k, formatValue(k as SettingKey, v)])))
  }
  if (verb === 'set') {
    if (key === undefined || rest.length === 0)
      throw new ClientError('usage: edgecoder config set <key> <value>')
    const k = parseKey(key)
    const value = parseValue(k, rest.join(' '))
    const s = await call<OrchestrationSettings>(opts, 'PUT', '/orchestration/settings', { [k]: value })
    return out(json ? JSON.stringify(s, null, 2) : `${k} = ${formatValue(k, s[k])}`)
  }
  throw new ClientError(`unknown config command "${verb}"; use get or set`)
}

function parseKey(key: string): SettingKey {
  const k = SettingKey.safeParse(key)
  if (!k.success)
    throw new ClientError(`unknown setting "${key}"; settings: ${SettingKey.options.join(', ')}`)
  return k.data
}

/** Friendly spellings: `schedule:22-6`, `idle-only`, `none` for no token/region; otherwise JSON or a string. */
export function parseValue(key: SettingKey, raw: string): unknown {
  if (key === 'powerPolicy') {
    const m = /^schedule:(\d{1,2})-(\d{1,2})$/.exec(raw)
    if (m) return { mode: 'schedule', hours: { start: Number(m[1]), end: Number(m[2]) } }
    if (raw === 'always' || raw === 'idle-only') return { mode: raw }
  }
  if (key === 'bootstrapPeers')
    return raw === 'none' || raw === '[]'
      ? []
      : raw.startsWith('[')
        ? JSON.parse(raw)
        : raw.split(/[\s,]+/).filter(Boolean)
  if ((key === 'meshToken' || key === 'region') && (raw === 'none' || raw === 'null')) return null
  if (key === 'meshToken' || key === 'region') return raw
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

function formatValue(key: SettingKey, v: unknown): string {
  if (key === 'meshToken') return v === null ? 'none (public mesh)' : `${String(v).slice(0, 4)}… (set)`
  if (key === 'powerPolicy') {
    const p = v as OrchestrationSettings['powerPolicy']
    return p.mode === 'schedule' ? `schedule ${p.hours.start}:00-${p.hours.end}:00` : p.mode
  }
  if (key === 'bootstrapPeers') return (v as string[]).length === 0 ? 'none' : (v as string[]).join(' ')
  return v === null ? 'none' : typeof v === 'string' ? v : JSON.stringify(v)
}
