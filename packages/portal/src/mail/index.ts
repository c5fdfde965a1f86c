export { type MailTransport, Outbox, type OutboxOptions } from './outbox.ts'
export { smtpTransport } from './smtp.ts'
