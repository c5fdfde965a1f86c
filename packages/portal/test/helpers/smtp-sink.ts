import { once } from 'node:events'
import { SMTPServer } from 'smtp-server'

export interface Mail {
  to: string
  raw: string
}

/** A real SMTP server on a free port that keeps what it receives; tests wait for mail by event. */
export class SmtpSink {
  readonly mails: Mail[] = []
  readonly #server: SMTPServer
  readonly #waiters: { match: (m: Mail) => boolean; resolve: (m: Mail) => void }[] = []
  port = 0

  constructor() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, cb) => {
        let raw = ''
        stream.setEncoding('utf8')
        stream.on('data', (d: string) => {
          raw += d
        })
        stream.on('end', () => {
          for (const rcpt of session.envelope.rcptTo) {
            const mail = { to: rcpt.address, raw }
            this.mails.push(mail)
            for (const w of [...this.#waiters]) {
              if (w.match(mail)) {
                this.#waiters.splice(this.#waiters.indexOf(w), 1)
                w.resolve(mail)
              }
            }
          }
          cb()
        })
      },
    })
  }

  async start(): Promise<string> {
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server.server, 'listening')
    const a = this.#server.server.address()
    this.port = typeof a === 'object' && a !== null ? a.port : 0
    return `smtp://127.0.0.1:${this.port}`
  }

  /** The `index`-th mail (0-based) received for `to`: at once if it is here, else when it arrives. */
  waitFor(to: string, index = 0): Promise<Mail> {
    const nth = () => this.mails.filter((m) => m.to === to)[index]
    const here = nth()
    if (here) return Promise.resolve(here)
    return new Promise((resolve) => {
      this.#waiters.push({ match: () => nth() !== undefined, resolve: () => resolve(nth()!) })
    })
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.#server.close(() => r()))
  }
}

/** The link a mail carries (quoted-printable soft breaks undone). */
export function linkToken(mail: Mail): string {
  const body = mail.raw.replace(/=\r?\n/g, '')
  const m = /#\/link\/([A-Za-z0-9_-]+)/.exec(body)
  if (!m) throw new Error(`no link in mail:\n${mail.raw}`)
  return m[1]!
}
