export { type CertificateVerdict, verifyActivation } from './certificate.ts'
export { ACTIVATION_FILE, enrollCommand } from './enroll.ts'
export { NodeActivation, type NodeActivationOptions } from './node-activation.ts'
export {
  ActivationRefusedError,
  activationCommand,
  readActivation,
  renewActivation,
  type SavedActivation,
} from './renew.ts'
export { walletCommand } from './wallet-cli.ts'
