import { realpathSync } from 'node:fs'
import { linuxConfinement, unconfined } from './linux.ts'
import { macosConfinement } from './macos.ts'
import type { Confinement } from './types.ts'

export { buildSeccompFilter, filterArch } from './seccomp.ts'
export type { Confinement, Launch, LaunchSpec } from './types.ts'

/** Finds the OS mechanism that confines the sandbox process on this machine (probing it on Linux). */
export function detectConfinement(packageDir: string, nodePath = process.execPath): Confinement {
  const node = realpathSync(nodePath)
  if (process.platform === 'linux') return linuxConfinement(packageDir, node)
  if (process.platform === 'darwin') {
    return macosConfinement(packageDir, node) ?? unconfined('/usr/bin/sandbox-exec is missing')
  }
  return unconfined(`no OS confinement for the sandbox on ${process.platform}`)
}

/** No OS wall: used where none exists, or in tests that measure the interpreters alone. */
export { unconfined }
