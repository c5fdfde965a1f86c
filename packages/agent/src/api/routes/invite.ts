import {
  decodeInvite,
  ErrorBody,
  encodeInvite,
  type Invite,
  InviteCheck,
  InviteError,
  InviteView,
  JoinRequest,
  OrchestrationSettings,
} from '@edgecoder/protocol'
import type { SettingsStore } from '../../settings/index.ts'
import { ApiError } from '../errors.ts'
import type { RouteModule } from '../server.ts'

/** Addresses an invite carries: enough for another machine to find one that answers. */
const INVITE_ADDRS = 8

export interface InviteDeps {
  settings: SettingsStore
  peerId: string
  /** This node's multiaddrs, the most widely dialable first. */
  addresses: () => string[]
}

/** The invite's addresses, each naming this node, as a bootstrap entry must. */
export function inviteAddrs(peerId: string, addrs: string[]): string[] {
  const named = addrs.map((a) => (a.endsWith(`/p2p/${peerId}`) ? a : `${a}/p2p/${peerId}`))
  return [...new Set(named)].slice(0, INVITE_ADDRS)
}

/** `/orchestration/invite` and `/orchestration/join`: one line to bring another machine into this private mesh. */
export const inviteRoutes =
  (deps: InviteDeps): RouteModule =>
  (app) => {
    app.get(
      '/orchestration/invite',
      {
        schema: {
          summary: "This node's invite: the mesh token and its entry addresses, as one line",
          response: { 200: InviteView, 409: ErrorBody },
        },
      },
      async () => {
        const token = deps.settings.get().meshToken
        if (token === null)
          throw new ApiError(
            409,
            'public_mesh',
            'this node is on the public mesh: set a mesh token first (Settings, or edgecoder config set meshToken <secret>)',
          )
        const addrs = inviteAddrs(deps.peerId, deps.addresses())
        if (addrs.length === 0)
          throw new ApiError(409, 'no_addresses', 'the mesh is not listening yet: try again in a moment')
        return { invite: encodeInvite({ token, addrs }), peerId: deps.peerId, addrs }
      },
    )
    app.post(
      '/orchestration/invite/check',
      {
        schema: {
          summary: 'Read an invite without applying it: whose mesh it is, so the operator can confirm',
          body: JoinRequest,
          response: { 200: InviteCheck, 400: ErrorBody },
        },
      },
      async (req) => {
        const invite = readInvite(req.body.invite, deps.peerId)
        const peerId = invite.addrs[0]!.split('/p2p/').at(-1)!
        return { peerId, addrs: invite.addrs, sameMesh: deps.settings.get().meshToken === invite.token }
      },
    )
    app.post(
      '/orchestration/join',
      {
        schema: {
          summary: "Join the private mesh of an invite: its token and addresses become this node's (live)",
          body: JoinRequest,
          response: { 200: OrchestrationSettings, 400: ErrorBody },
        },
      },
      async (req) => {
        const invite = readInvite(req.body.invite, deps.peerId)
        return deps.settings.update({ meshToken: invite.token, bootstrapPeers: invite.addrs })
      },
    )
  }

/** An invite as a 400 with the reason when it can't be used here. */
function readInvite(line: string, selfId: string): Invite {
  let invite: Invite
  try {
    invite = decodeInvite(line)
  } catch (err) {
    if (err instanceof InviteError) throw new ApiError(400, 'invalid_invite', err.message)
    throw err
  }
  if (invite.addrs.every((a) => a.endsWith(`/p2p/${selfId}`)))
    throw new ApiError(400, 'own_invite', "this is this node's own invite: paste it on the other machine")
  return invite
}
