import nodemailer from 'nodemailer'
import type { MailTransport } from './outbox.ts'

/** SMTP through nodemailer: `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://` (TLS). */
export function smtpTransport(url: string): MailTransport & { close(): void } {
  const t = nodemailer.createTransport(url)
  return {
    async send(msg) {
      await t.sendMail(msg)
    },
    close: () => t.close(),
  }
}
