import { z } from 'zod'
import { NodeRole } from './mesh.ts'

/**
 * Signed by the portal key over the canonical JSON of every other field: this peer belongs to
 * this account, for these roles, until `expiresAt`. Short lifetimes bound how long a revoked
 * node stays trusted.
 */
export const ActivationCertificate = z.object({
  type: z.literal('edgecoder.activation/1'),
  peerId: z.string().min(1).max(128),
  accountId: z.uuid(),
  roles: z.array(NodeRole).min(1).max(4),
  issuedAt: z.number().int().nonnegative(),
  expiresAt: z.number().int().positive(),
  /** The portal's peer id. */
  issuer: z.string().min(1).max(128),
  signature: z.string().regex(/^[A-Za-z0-9_-]{40,200}$/),
})
export type ActivationCertificate = z.infer<typeof ActivationCertificate>

export const EnrollChallengeRequest = z.object({
  code: z.string().min(8).max(64),
  peerId: z.string().min(1).max(128),
})
export const EnrollChallenge = z.object({
  challengeId: z.uuid(),
  nonce: z.string(),
  portalPeerId: z.string(),
  expiresAt: z.number().int(),
})
export type EnrollChallenge = z.infer<typeof EnrollChallenge>

export const EnrollComplete = z.object({
  challengeId: z.uuid(),
  peerId: z.string().min(1).max(128),
  /** Ed25519 signature (base64url) over the canonical JSON of `enrollProof(...)`. */
  signature: z.string().regex(/^[A-Za-z0-9_-]{40,200}$/),
  /** Addresses where other nodes reach this one, for the coordinator list. */
  publicAddrs: z
    .array(
      z
        .string()
        .regex(/^\/[a-z0-9]/)
        .max(300),
    )
    .max(8)
    .default([]),
})
export type EnrollComplete = z.infer<typeof EnrollComplete>

/** What a node signs to prove it holds the key of `peerId`: bound to this challenge and this portal. */
export function enrollProof(c: { challengeId: string; nonce: string; peerId: string; portalPeerId: string }) {
  return {
    type: 'edgecoder.enroll-proof/1',
    challengeId: c.challengeId,
    nonce: c.nonce,
    peerId: c.peerId,
    portal: c.portalPeerId,
  }
}
