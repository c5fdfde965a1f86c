import { realpathSync } from 'node:fs'
import { linuxConfinement, probeLinuxConfinement, unconfined } from './linux.ts'
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

/**
 * {@link detectConfinement} without blocking: on Linux the probe's process runs while the caller
 * goes on with other work (an agent's start-up). Never rejects: a failure is an unconfined result.
 */
export async function probeConfinement(
  packageDir: string,
  nodePath = process.execPath,
): Promise<Confinement> {
  try {
    if (process.platform === 'linux') return await probeLinuxConfinement(packageDir, realpathSync(nodePath))
    return detectConfinement(packageDir, nodePath)
  } catch (err) {
    return unconfined(`the sandbox's confinement could not be probed: ${(err as Error).message}`)
  }
}

/** No OS wall: used where none exists, or in tests that measure the interpreters alone. */
export { unconfined }
