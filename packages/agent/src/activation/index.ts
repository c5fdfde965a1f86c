export { type CertificateVerdict, verifyActivation } from './certificate.ts'
export { ACTIVATION_FILE, enrollCommand } from './enroll.ts'
