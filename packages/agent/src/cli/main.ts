#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { VERSION } from '../version.ts'

// Each command loads its own code: `start` does not carry the client commands, nor they the node.
const usage = async (): Promise<string> => {
  const { START_FLAGS } = await import('../config.ts')
  return `edgecoder ${VERSION}: a node of the EdgeCoder mesh

Usage:
  edgecoder start [flags]          run the agent in the foreground
  edgecoder status [--json]        this node's state
  edgecoder peers [--json]         peers this node knows
  edgecoder config get [key]       read run-time settings
  edgecoder config set <key> <v>   change one (e.g. maxConcurrentTasks 4, powerPolicy schedule:22-6)
  edgecoder invite                 one line that lets another machine join this private mesh
                                   (there: edgecoder start --join <invite>)
  edgecoder submit <kind> ...      submit a code, run or chat task and follow it (edgecoder submit --help)
  edgecoder tasks [--status S]     recent tasks (--submitter, --limit, --json)
  edgecoder models list|pull|swap|rm  manage models (pull shows a progress bar)
  edgecoder enroll --portal URL --code C  activate this node on a portal (--data-dir, --public-addr)
  edgecoder activation show|renew  this node's activation certificate
  edgecoder wallet withdraw --portal URL --id ID  carry out a withdrawal started on the portal
  edgecoder portal start [flags]   run the portal (edgecoder portal help)
  edgecoder credits [balance|history|verify|claim]  the credit ledger (edgecoder credits --help)

Client flags: --api-url URL (EDGECODER_API_URL), --data-dir DIR (to find the API token), --json

Start flags (each also an environment variable; flags win):
${Object.entries(START_FLAGS)
  .map(([k, v]) => `  --${k.padEnd(22)} ${v.env.padEnd(32)} ${v.help}`)
  .join('\n')}
`
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  // The node itself (libp2p, fastify, the store) loads only for `start`: client commands stay quick.
  if (command === 'start') return (await import('./start.ts')).startCommand(rest)
  if (command === 'submit' || command === 'tasks')
    return (await import('./tasks.ts')).taskCommand(command, rest)
  if (command === 'models') return (await import('./models.ts')).modelsCommand(rest)
  if (command === 'portal') return (await import('@edgecoder/portal')).portalCommand(rest)
  if (command === 'enroll') return (await import('../activation/index.ts')).enrollCommand(rest)
  if (command === 'activation') return (await import('../activation/index.ts')).activationCommand(rest)
  if (command === 'wallet') return (await import('../activation/index.ts')).walletCommand(rest)
  if (command === 'credits') return (await import('./credits.ts')).creditsCommand(rest)
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(await usage())
    return command === undefined ? 1 : 0
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  let parsed: ReturnType<
    typeof parseArgs<{ options: typeof CLIENT_FLAGS; allowPositionals: true; strict: true }>
  >
  try {
    parsed = parseArgs({ args: rest, options: CLIENT_FLAGS, allowPositionals: true, strict: true })
  } catch (err) {
    process.stderr.write(`edgecoder: ${(err as Error).message}\n`)
    return 2
  }
  const { ClientError, clientOptions } = await import('./client.ts')
  const { configCommand, inviteCommand, peersCommand, statusCommand } = await import('./commands.ts')
  const opts = clientOptions(parsed.values)
  const json = parsed.values.json ?? false
  const out = (s: string) => process.stdout.write(`${s}\n`)
  try {
    switch (command) {
      case 'status':
        await statusCommand(opts, json, out)
        return 0
      case 'peers':
        await peersCommand(opts, json, out)
        return 0
      case 'config':
        await configCommand(opts, parsed.positionals, json, out)
        return 0
      case 'invite':
        await inviteCommand(opts, json, out)
        return 0
      default:
        process.stderr.write(`edgecoder: unknown command "${command}"\n\n${await usage()}`)
        return 2
    }
  } catch (err) {
    if (err instanceof ClientError) {
      process.stderr.write(`edgecoder: ${err.message}\n`)
      return 1
    }
    throw err
  }
}

const CLIENT_FLAGS = {
  'api-url': { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
} as const

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err) => {
    process.stderr.write(`edgecoder: ${(err as Error).stack ?? err}\n`)
    process.exitCode = 1
  },
)
