/**
 * A flag's value may begin with a dash: a base64url key or code does one time in 64.
 * node's parseArgs refuses `--grant-key -Xyz` as ambiguous, so such a value is joined
 * to its flag as `--grant-key=-Xyz`, unless it is itself one of the given flags.
 */
export function joinDashValues(
  argv: string[],
  flags: Readonly<Record<string, { type: 'string' | 'boolean' }>>,
): string[] {
  const isFlag = (arg: string) => arg.startsWith('--') && (arg.slice(2).split('=')[0] as string) in flags
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const next = argv[i + 1]
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : ''
    const takesValue = Object.hasOwn(flags, name) && flags[name]?.type === 'string'
    if (takesValue && next?.startsWith('-') && next !== '--' && !isFlag(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else out.push(arg)
  }
  return out
}
