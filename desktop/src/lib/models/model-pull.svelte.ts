import { type AgentApi, AgentApiError } from '../api.ts'
import { PullSpeed, type PullTarget, pullBody, readPullStream } from './pull.ts'

export type PullPhase = 'starting' | 'downloading' | 'verifying' | 'done' | 'cancelled' | 'failed'

/**
 * One pull as the panel shows it: `POST /model/pull` followed line by line, its speed, and a
 * cancel that asks the agent (`DELETE /model/pull/:name`) rather than only dropping the stream.
 */
export class ModelPull {
  phase = $state<PullPhase>('starting')
  completedBytes = $state(0)
  totalBytes = $state<number | null>(null)
  fraction = $state<number | null>(null)
  bytesPerSec = $state<number | null>(null)
  error = $state<{ code: string; message: string } | null>(null)
  readonly target: PullTarget
  #api: AgentApi
  #ctrl = new AbortController()
  #speed = new PullSpeed()
  #cancelling = false

  constructor(api: AgentApi, target: PullTarget) {
    this.#api = api
    this.target = target
  }

  get name(): string {
    return this.target.name
  }

  get finished(): boolean {
    return this.phase === 'done' || this.phase === 'cancelled' || this.phase === 'failed'
  }

  /** Runs the pull to its end; resolves whatever the outcome (see `phase`). */
  async run(): Promise<void> {
    let res: Response
    try {
      res = await fetch(this.#api.url('/model/pull'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
        body: JSON.stringify(pullBody(this.target)),
        signal: this.#ctrl.signal,
      })
    } catch (err) {
      return this.#end(err)
    }
    if (!res.ok || !res.body) {
      const body = (await res.json().catch(() => null)) as {
        error?: { code?: string; message?: string }
      } | null
      return this.#fail(
        body?.error?.code ?? `http_${res.status}`,
        body?.error?.message ?? `the agent answered ${res.status}`,
      )
    }
    try {
      for await (const line of readPullStream(res.body)) {
        if (line.type === 'error') {
          if (line.code === 'cancelled') this.phase = 'cancelled'
          else this.#fail(line.code, line.message)
          return
        }
        const p = line.progress
        this.completedBytes = p.completedBytes
        this.totalBytes = p.totalBytes
        this.fraction = p.fraction
        this.bytesPerSec = this.#speed.add(performance.now(), p.completedBytes)
        if (line.type === 'done') {
          this.fraction = 1
          this.phase = 'done'
          return
        }
        this.phase = p.status === 'verifying' ? 'verifying' : 'downloading'
      }
      if (!this.finished) this.#fail('stream_ended', 'the agent closed the pull before it was done')
    } catch (err) {
      this.#end(err)
    }
  }

  async cancel(): Promise<void> {
    if (this.finished || this.#cancelling) return
    this.#cancelling = true
    try {
      await this.#api.request('DELETE', `/model/pull/${encodeURIComponent(this.name)}`)
    } catch (err) {
      // 404: the agent holds no such pull (it ended, or never began); dropping the stream is all there is.
      if (!(err instanceof AgentApiError && err.status === 404)) {
        this.#cancelling = false
        this.error = { code: (err as AgentApiError).code ?? 'error', message: (err as Error).message }
        return
      }
    }
    // The stream ends with a `cancelled` line; aborting also covers a pull that never answered.
    this.#ctrl.abort()
    if (!this.finished) this.phase = 'cancelled'
  }

  #end(err: unknown): void {
    if (this.#ctrl.signal.aborted) this.phase = 'cancelled'
    else
      this.#fail('unreachable', `the agent at ${this.#api.baseUrl} did not answer: ${(err as Error).message}`)
  }

  #fail(code: string, message: string): void {
    this.error = { code, message }
    this.phase = 'failed'
  }
}
