export { type CertificateVerdict, verifyActivation } from './certificate.ts'
export { ACTIVATION_FILE, type Enrolled, enrollCommand, enrollNode } from './enroll.ts'
export { NodeActivation, type NodeActivationOptions } from './node-activation.ts'
export {
  type ClaimResult,
  PortalCallError,
  PortalWallet,
  type WithdrawalResult,
} from './portal-wallet.ts'
export {
  ActivationRefusedError,
  activationCommand,
  readActivation,
  renewActivation,
  type SavedActivation,
} from './renew.ts'
export { walletCommand } from './wallet-cli.ts'
