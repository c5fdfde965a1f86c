/**
 * Who may go how far below zero. A fresh key costs nothing, so an open mesh gives unknown
 * identities no credit line (else anyone could mint through throwaway keys); a private mesh's
 * members hold its token, which the operator handed out, so each gets the configured line.
 */
export interface CreditPolicy {
  creditLine(peerId: string): number
}

export interface CreditPolicyInit {
  /** The line of every member of a private mesh. */
  memberLine: number
  /** True while this node runs with a mesh token. */
  privateMesh: () => boolean
}

export function creditPolicy(init: CreditPolicyInit): CreditPolicy {
  return { creditLine: () => (init.privateMesh() ? init.memberLine : 0) }
}
