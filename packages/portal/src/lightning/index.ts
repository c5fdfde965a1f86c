export { bech32Decode, bech32Encode, convertBits } from './bech32.ts'
export { type Bolt11, Bolt11Error, decodeBolt11 } from './bolt11.ts'
export { type Lightning, LightningError, type PaymentOutcome } from './lightning.ts'
export { LndRest, type LndRestOptions } from './lnd-rest.ts'
