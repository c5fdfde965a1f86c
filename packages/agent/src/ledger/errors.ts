import type { LedgerRefusal } from '@edgecoder/protocol'

/** A block, grant or settlement this node will not sign or take; `reason` is stable. */
export class LedgerRefusedError extends Error {
  override name = 'LedgerRefusedError'
  readonly reason: LedgerRefusal

  constructor(reason: LedgerRefusal, message: string) {
    super(message)
    this.reason = reason
  }
}
