import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { parseArgs } from 'node:util'
import type { TaskEvent, TaskList, TaskRecord, TaskSpecInput, TaskStatus } from '@edgecoder/protocol'
import { ClientError, type ClientOptions, call, clientOptions } from './client.ts'
import { table } from './format.ts'
import { readEvents } from './sse-client.ts'

type Out = (s: string) => void

export const SUBMIT_USAGE = `Usage:
  edgecoder submit code <prompt...> [--language python|javascript] [--tests FILE] [--max-attempts N]
  edgecoder submit run --file FILE [--tests FILE] [--language L]
  edgecoder submit chat <message...> | --file FILE
Flags: --submitter NAME, --priority low|normal|high, --detach (print the id and return), --json,
       --api-url URL, --data-dir DIR
Prints progress on stderr and the result (code, test output or answer) on stdout.
Exit code 0 when the task succeeded, 1 when it failed or was cancelled.`

const SUBMIT_FLAGS = {
  file: { type: 'string' },
  tests: { type: 'string' },
  language: { type: 'string' },
  'max-attempts': { type: 'string' },
  submitter: { type: 'string' },
  priority: { type: 'string' },
  detach: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  'api-url': { type: 'string' },
  'data-dir': { type: 'string' },
} as const

/** `edgecoder submit`: sends a task, follows its events live, exits 0 only on success. */
export async function submitCommand(argv: string[], out: Out, err: Out): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: SUBMIT_FLAGS, allowPositionals: true })
  if (values.help) {
    out(SUBMIT_USAGE)
    return 0
  }
  const [kind, ...words] = positionals
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8')
    } catch (e) {
      throw new ClientError(`cannot read ${path}: ${(e as Error).message}`)
    }
  }
  const language = values.language ?? languageOf(values.file) ?? 'python'
  const text = words.join(' ').trim()
  const common = {
    ...(values.submitter ? { submitter: values.submitter } : {}),
    ...(values.priority ? { priority: values.priority as 'normal' } : {}),
  }
  let spec: TaskSpecInput
  if (kind === 'code') {
    const prompt = text || (values.file ? read(values.file) : '')
    if (!prompt) throw new ClientError(`give the task as words or --file\n${SUBMIT_USAGE}`)
    spec = {
      kind,
      language: language as 'python',
      prompt,
      ...(values.tests ? { tests: read(values.tests) } : {}),
      ...(values['max-attempts'] ? { maxAttempts: Number(values['max-attempts']) } : {}),
      ...common,
    }
  } else if (kind === 'run') {
    if (!values.file) throw new ClientError(`a run task needs --file with the code\n${SUBMIT_USAGE}`)
    spec = {
      kind,
      language: language as 'python',
      code: read(values.file),
      tests: values.tests ? read(values.tests) : '',
      ...common,
    }
  } else if (kind === 'chat') {
    const content = text || (values.file ? read(values.file) : '')
    if (!content) throw new ClientError(`give the message as words or --file\n${SUBMIT_USAGE}`)
    spec = { kind, messages: [{ role: 'user', content }], ...common }
  } else {
    throw new ClientError(`unknown task kind "${kind ?? ''}"\n${SUBMIT_USAGE}`)
  }

  const opts = clientOptions(values)
  const accepted = await call<{ id: string; status: TaskStatus }>(opts, 'POST', '/tasks', spec)
  if (values.detach) {
    out(values.json ? JSON.stringify(accepted) : accepted.id)
    return 0
  }
  if (!values.json) err(`task ${accepted.id} ${accepted.status}`)
  await follow(opts, accepted.id, values.json ? () => {} : progressPrinter(kind, out, err))
  const task = await call<TaskRecord>(opts, 'GET', `/tasks/${accepted.id}`)
  if (values.json) out(JSON.stringify(task, null, 2))
  else printResult(task, out, err)
  return task.status === 'succeeded' ? 0 : 1
}

/** Follows a task's events until `done`, reconnecting (from the last event seen) if the stream drops. */
async function follow(opts: ClientOptions, id: string, onEvent: (ev: TaskEvent) => void): Promise<void> {
  let last: string | undefined
  for (let tries = 0; tries < 5; tries++) {
    const ctrl = new AbortController()
    try {
      for await (const msg of readEvents(opts, `/tasks/${id}/events`, ctrl.signal, last)) {
        last = msg.id ?? last
        const ev = JSON.parse(msg.data) as TaskEvent
        onEvent(ev)
        if (ev.type === 'done') return
      }
    } catch (e) {
      if (e instanceof ClientError && tries === 4) throw e
    } finally {
      ctrl.abort()
    }
    await new Promise((r) => setTimeout(r, 500 * (tries + 1)))
  }
  throw new ClientError(`lost the event stream of task ${id}; see \`edgecoder tasks\``)
}

function progressPrinter(kind: string, out: Out, err: Out): (ev: TaskEvent) => void {
  /** The token stream being printed (`plan`, `attempt 2`), so a new one starts on its own line. */
  let stream: string | null = null
  const line = (s: string) => {
    if (stream !== null) process.stderr.write('\n')
    stream = null
    err(s)
  }
  return (ev) => {
    const d = ev.data as Record<string, unknown>
    switch (ev.type) {
      case 'started':
        return line(`started (run ${d.runs})`)
      case 'queued':
        return d.reason ? line(`queued again: ${d.reason}`) : undefined
      case 'routed': {
        const who = d.local ? 'this node' : `peer …${String(d.peerId).slice(-8)}`
        const why = (d.reasons as string[])[0] ?? ''
        if (d.event === 'chosen') return line(`routed to ${who}`)
        if (d.event === 'accepted') return line(`${who} took it (${why})`)
        if (d.event === 'completed') return undefined
        return line(`${who}: ${d.event}${why ? ` (${why})` : ''}`)
      }
      case 'token':
        // A chat's answer is the output; a code task's tokens are progress.
        if (kind === 'chat') process.stdout.write(String(d.text))
        else {
          const name = d.phase === 'plan' ? 'plan' : `attempt ${d.attempt}`
          if (stream !== name) {
            if (stream !== null) process.stderr.write('\n')
            process.stderr.write(`${name} (model): `)
            stream = name
          }
          process.stderr.write(String(d.text))
        }
        return
      case 'attempt': {
        line(
          `attempt ${d.n}: ${(d.tokens as { completion: number }).completion} tokens, ${String(d.code).split('\n').length} lines of code`,
        )
        if (typeof d.repeatOf === 'number')
          line(`attempt ${d.n}: the same code as attempt ${d.repeatOf}, not run again`)
        if (typeof d.droppedTail === 'string') {
          line(
            `attempt ${d.n}: dropped a tail that did not parse (${d.droppedTail.split('\n').length} lines)`,
          )
        }
        return
      }
      case 'test-result':
        return line(
          `${d.attempt ? `attempt ${d.attempt}: ` : ''}tests ${d.outcome}: ${d.passed} passed, ${d.failed} failed of ${d.total} (${Math.round(Number(d.durationMs))} ms)`,
        )
      case 'done':
        if (kind === 'chat') out('')
        return line(`${d.status}${d.error ? `: ${(d.error as { message: string }).message}` : ''}`)
    }
  }
}

function printResult(task: TaskRecord, out: Out, err: Out): void {
  const r = task.result
  if (!r) return
  if (task.kind === 'code' && r.code) out(r.code)
  if (task.kind !== 'chat' && r.report && r.report.outcome !== 'passed' && r.report.output.trim()) {
    err('--- output ---')
    err(r.report.output.trimEnd())
  }
}

function languageOf(file: string | undefined): string | undefined {
  const ext = file ? extname(file).toLowerCase() : ''
  return ext === '.py' ? 'python' : ['.js', '.mjs', '.cjs'].includes(ext) ? 'javascript' : undefined
}

const TASKS_FLAGS = {
  status: { type: 'string' },
  submitter: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  'api-url': { type: 'string' },
  'data-dir': { type: 'string' },
} as const

/** `edgecoder tasks`: the latest tasks as a table (or JSON). */
export async function tasksCommand(argv: string[], out: Out): Promise<number> {
  const { values } = parseArgs({ args: argv, options: TASKS_FLAGS, allowPositionals: false })
  const q = new URLSearchParams()
  if (values.status) q.set('status', values.status)
  if (values.submitter) q.set('submitter', values.submitter)
  q.set('limit', values.limit ?? '20')
  const list = await call<TaskList>(clientOptions(values), 'GET', `/tasks?${q}`)
  if (values.json) {
    out(JSON.stringify(list, null, 2))
    return 0
  }
  if (list.tasks.length === 0) {
    out('no tasks')
    return 0
  }
  out(
    table(
      ['ID', 'KIND', 'STATUS', 'SUBMITTER', 'PRIORITY', 'TESTS', 'ATTEMPTS', 'CREATED', 'RUN'],
      list.tasks.map((t) => [
        t.id,
        t.kind,
        t.status,
        t.submitter,
        t.priority,
        t.result?.report ? `${t.result.report.passed}/${t.result.report.total}` : null,
        t.kind === 'code' ? (t.result?.attempts.length ?? null) : null,
        t.createdAt.replace('T', ' ').slice(0, 19),
        t.result ? `${(t.result.durations.runMs / 1000).toFixed(1)}s` : null,
      ]),
    ),
  )
  return 0
}

/** Runs `submit` or `tasks`, turning the agent's errors and bad flags into a message and an exit code. */
export async function taskCommand(command: 'submit' | 'tasks', argv: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(`${s}\n`)
  const err = (s: string) => process.stderr.write(`${s}\n`)
  try {
    return command === 'submit' ? await submitCommand(argv, out, err) : await tasksCommand(argv, out)
  } catch (e) {
    if (e instanceof ClientError) {
      err(`edgecoder: ${e.message}`)
      return 1
    }
    if ((e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`edgecoder: ${(e as Error).message}${command === 'submit' ? `\n${SUBMIT_USAGE}` : ''}`)
      return 2
    }
    throw e
  }
}
