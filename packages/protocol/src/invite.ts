import { z } from 'zod'
import { BootstrapAddr, MeshToken } from './settings.ts'

/**
 * An invite to a private mesh: one line another machine pastes to join it. The prefix carries
 * the format's version, so a newer format is told apart from a damaged one; the body is
 * base64url of a small JSON object.
 */
export const INVITE_VERSION = 1
export const INVITE_PREFIX = `edgecoder-invite${INVITE_VERSION}.`
const ANY_PREFIX = /^edgecoder-invite(\d+)\./

export const Invite = z
  .object({
    /** The mesh token: whoever holds the invite holds the mesh's secret. */
    token: MeshToken,
    /** The inviting node's entry addresses, the most widely dialable first. */
    addrs: z.array(BootstrapAddr).min(1, 'an invite names at least one address').max(16),
  })
  .strict()
export type Invite = z.infer<typeof Invite>

/** Why a line is not an invite this version reads. */
export class InviteError extends Error {
  override name = 'InviteError'
}

export function encodeInvite(invite: Invite): string {
  const body = JSON.stringify(Invite.parse(invite))
  return INVITE_PREFIX + Buffer.from(body, 'utf8').toString('base64url')
}

/** Reads an invite; every failure is an `InviteError` whose message says what is wrong. */
export function decodeInvite(line: string): Invite {
  const text = line.trim()
  if (text.length === 0)
    throw new InviteError('the invite is empty: paste the line `edgecoder invite` prints')
  if (text.length > 8192) throw new InviteError('that is too long for an invite (at most 8 KiB)')
  const version = ANY_PREFIX.exec(text)
  if (version === null)
    throw new InviteError(`not an EdgeCoder invite: an invite starts with "${INVITE_PREFIX}"`)
  if (Number(version[1]) !== INVITE_VERSION)
    throw new InviteError(
      `this invite has format version ${version[1]}; this node reads version ${INVITE_VERSION}: update EdgeCoder on one of the machines`,
    )
  const body = text.slice(version[0].length)
  if (!/^[A-Za-z0-9_-]+$/.test(body))
    throw new InviteError('the invite is damaged (characters outside base64url): copy the whole line again')
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    throw new InviteError('the invite is damaged or cut short: copy the whole line again')
  }
  const parsed = Invite.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const field = issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''
    throw new InviteError(`the invite is not valid (${field}${issue.message})`)
  }
  return parsed.data
}

/** `GET /orchestration/invite`: this node's invite and what it holds. */
export const InviteView = z.object({
  invite: z.string(),
  peerId: z.string(),
  addrs: z.array(z.string()),
})
export type InviteView = z.infer<typeof InviteView>

/** `POST /orchestration/invite/check`: what an invite would do, before the operator confirms it. */
export const InviteCheck = z.object({
  /** The inviting node. */
  peerId: z.string(),
  addrs: z.array(z.string()),
  /** This node already uses the invite's token. */
  sameMesh: z.boolean(),
})
export type InviteCheck = z.infer<typeof InviteCheck>

/** `POST /orchestration/join`: an invite pasted by the operator. */
export const JoinRequest = z.object({ invite: z.string().max(8192) }).strict()
export type JoinRequest = z.infer<typeof JoinRequest>
