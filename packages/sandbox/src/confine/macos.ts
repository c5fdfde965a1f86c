import { existsSync } from 'node:fs'
import { packageDirs } from './paths.ts'
import type { Confinement } from './types.ts'

const SANDBOX_EXEC = '/usr/bin/sandbox-exec'

const quote = (path: string): string => JSON.stringify(path)

/**
 * The Seatbelt profile of the sandbox process: nothing allowed but reading Node, the system
 * libraries and the sandbox's own code; no network, no new processes, no writes.
 */
export function seatbeltProfile(nodePath: string, readOnly: string[]): string {
  return [
    '(version 1)',
    '(deny default)',
    `(allow process-exec (literal ${quote(nodePath)}))`,
    '(deny process-fork)',
    '(deny network*)',
    '(allow file-read-metadata)',
    `(allow file-read* (literal ${quote(nodePath)}) (subpath "/usr/lib") (subpath "/System/Library") (subpath "/private/var/db/dyld") ${readOnly.map((p) => `(subpath ${quote(p)})`).join(' ')})`,
    '(allow file-write-data (literal "/dev/null"))',
    '(allow sysctl-read)',
    '(allow signal (target self))',
    '(allow mach-lookup (global-name "com.apple.system.notification_center"))',
    '',
  ].join('\n')
}

/**
 * macOS: `sandbox-exec` with the profile above. macOS does not enforce RLIMIT_AS, so memory is
 * held by the interpreters' limits (wasm memory cap, V8 heap limits) and the kill on breach only.
 */
export function macosConfinement(packageDir: string, nodePath: string): Confinement | null {
  if (!existsSync(SANDBOX_EXEC)) return null
  const profile = seatbeltProfile(nodePath, packageDirs(packageDir))
  return {
    mechanism: 'sandbox-exec',
    confined: true,
    memory: 'none',
    detail: 'sandbox-exec: no network, no new processes, read-only view of Node and the sandbox',
    launch: (spec) => ({
      command: SANDBOX_EXEC,
      args: ['-p', profile, nodePath, ...spec.args],
      extraFds: [],
      done: () => {},
    }),
  }
}
