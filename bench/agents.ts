import { BIN } from '../tests/e2e/harness.ts'

/**
 * How a bench starts its agents, from its `--agent` option: `bin` (the default) is
 * `bin/edgecoder`, as an operator runs it; `sources` runs the TypeScript sources as the tests do;
 * anything else is a command line, e.g. another checkout's agent for a before/after comparison
 * (`--agent "node --max-semi-space-size=1 /path/to/packages/agent/dist/edgecoder.js"`).
 * Undefined means the harness's own default (the sources).
 */
export function agentCommand(spec = 'bin'): string[] | undefined {
  if (spec === 'bin') return [BIN]
  if (spec === 'sources') return undefined
  return spec.split(' ').filter(Boolean)
}
