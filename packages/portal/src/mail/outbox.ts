import type { Logger } from 'pino'
import type { Database, Queryable } from '../db/index.ts'

/** Sends one message; the SMTP adapter in production. */
export interface MailTransport {
  send(msg: { from: string; to: string; subject: string; text: string }): Promise<void>
}

export interface OutboxOptions {
  from: string
  /** Null: mail stays queued (an operator reads or forwards the table). */
  transport: MailTransport | null
  retryMs: number
  maxAttempts: number
}

/**
 * Mail is written to the outbox in the same transaction as what caused it, then sent by a loop:
 * a crash never loses a verification link nor sends one for a rolled-back sign-up.
 */
export class Outbox {
  readonly #db: Database
  readonly #opts: OutboxOptions
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | null = null
  #again = false
  #stopped = false

  constructor(db: Database, opts: OutboxOptions, log: Logger) {
    this.#db = db
    this.#opts = opts
    this.#log = log.child({ part: 'outbox' })
  }

  async enqueue(q: Queryable, to: string, subject: string, body: string): Promise<void> {
    await q.query('INSERT INTO outbox (to_address, subject, body) VALUES ($1, $2, $3)', [to, subject, body])
  }

  start(): void {
    if (this.#opts.transport === null) return
    this.#timer = setInterval(() => this.flush(), this.#opts.retryMs)
    this.#timer.unref()
    this.flush()
  }

  /** Sends what is queued; called after each enqueue's transaction commits. */
  flush(): void {
    if (this.#opts.transport === null || this.#stopped) return
    if (this.#running !== null) {
      this.#again = true
      return
    }
    this.#running = this.#drain()
      .catch((err) => this.#log.error({ err }, 'outbox flush failed'))
      .finally(() => {
        this.#running = null
        if (this.#again) {
          this.#again = false
          this.flush()
        }
      })
  }

  async #drain(): Promise<void> {
    const transport = this.#opts.transport!
    for (;;) {
      const rows = await this.#db.query<{ id: number; to_address: string; subject: string; body: string }>(
        'SELECT id, to_address, subject, body FROM outbox WHERE sent_at IS NULL AND attempts < $1 ORDER BY id LIMIT 20',
        [this.#opts.maxAttempts],
      )
      if (rows.length === 0 || this.#stopped) return
      for (const m of rows) {
        try {
          await transport.send({ from: this.#opts.from, to: m.to_address, subject: m.subject, text: m.body })
          await this.#db.query('UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = $1', [
            m.id,
          ])
        } catch (err) {
          this.#log.warn({ err, id: m.id }, 'mail not sent; will retry')
          await this.#db.query('UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [
            m.id,
            String((err as Error).message).slice(0, 500),
          ])
          return
        }
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#running
  }
}
