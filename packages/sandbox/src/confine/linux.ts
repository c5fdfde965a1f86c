import { spawn, spawnSync } from 'node:child_process'
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onPath, packageDirs } from './paths.ts'
import { buildSeccompFilter, filterArch } from './seccomp.ts'
import type { Confinement, Launch, LaunchSpec } from './types.ts'

/** Where the shared libraries Node links against live; bound read-only, nothing else of /usr is. */
const LIBRARY_DIRS = ['/usr/lib', '/usr/lib64', '/usr/lib32']
const LIBRARY_LINKS = ['/lib', '/lib64', '/lib32']
/** Run as nobody inside the sandbox's user namespace. */
const NOBODY = '65534'

/** bubblewrap's arguments: every namespace, nothing of the host but what the process reads. */
function bwrapArgs(readOnly: string[]): string[] {
  const args = [
    '--unshare-all',
    '--unshare-user',
    '--uid',
    NOBODY,
    '--gid',
    NOBODY,
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--clearenv',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    '--chdir',
    '/',
  ]
  for (const dir of LIBRARY_DIRS) if (existsSync(dir)) args.push('--ro-bind', dir, dir)
  for (const link of LIBRARY_LINKS) {
    if (!existsSync(link)) continue
    const stat = lstatSync(link)
    if (stat.isSymbolicLink()) args.push('--symlink', readlinkSync(link), link)
    else args.push('--ro-bind', link, link)
  }
  for (const path of readOnly) args.push('--ro-bind', path, path)
  return args
}

/** What the probe runs inside the sandbox: Node starting and exiting. */
const PROBE: LaunchSpec = { args: ['-e', ''], memoryLimitBytes: 2 * 1024 ** 3 }

/** How the probe's process ended. */
interface ProbeResult {
  status: number | null
  stderr: string
  error?: Error
}

/**
 * Linux: bubblewrap (own user, network, PID, IPC, UTS and mount namespaces; read-only binds of
 * Node, its libraries and the sandbox's own code; a seccomp filter; dies with the agent), under
 * prlimit's RLIMIT_AS so that whatever the guest allocates, wasm or not, counts against one limit.
 */
export function linuxConfinement(packageDir: string, nodePath: string): Confinement {
  const launch = prepare(packageDir, nodePath)
  if (typeof launch !== 'function') return launch
  const probe = launch(PROBE)
  const result = spawnSync(probe.command, probe.args, {
    stdio: ['ignore', 'ignore', 'pipe', ...probe.extraFds],
    env: {},
    timeout: 20_000,
  })
  probe.done()
  return verdict(
    { status: result.status, stderr: result.stderr?.toString() ?? '', error: result.error },
    launch,
  )
}

/** {@link linuxConfinement} without blocking the event loop while the probe's process runs. */
export async function probeLinuxConfinement(packageDir: string, nodePath: string): Promise<Confinement> {
  const launch = prepare(packageDir, nodePath)
  if (typeof launch !== 'function') return launch
  const probe = launch(PROBE)
  const result = await new Promise<ProbeResult>((resolve) => {
    let stderr = ''
    const child = spawn(probe.command, probe.args, {
      stdio: ['ignore', 'ignore', 'pipe', ...probe.extraFds],
      env: {},
      timeout: 20_000,
    })
    child.stderr!.on('data', (d) => {
      stderr += d
    })
    child.on('error', (error) => resolve({ status: null, stderr, error }))
    child.on('close', (status) => resolve({ status, stderr }))
  })
  probe.done()
  return verdict(result, launch)
}

/** The launcher of confined processes, or the reason there is none (a tool missing). */
function prepare(packageDir: string, nodePath: string): Confinement | ((spec: LaunchSpec) => Launch) {
  const bwrap = onPath('bwrap')
  const prlimit = onPath('prlimit')
  const arch = filterArch()
  const missing = !bwrap
    ? 'bubblewrap (bwrap) is not installed: apt-get install bubblewrap'
    : !prlimit
      ? 'prlimit (util-linux) is not installed'
      : !arch
        ? `no seccomp filter for ${process.arch}`
        : null
  if (missing || !bwrap || !prlimit || !arch) return unconfined(missing ?? 'unavailable')
  const readOnly = [nodePath, ...packageDirs(packageDir)]
  const filter = buildSeccompFilter(arch)

  return (spec: LaunchSpec): Launch => {
    const dir = mkdtempSync(join(tmpdir(), 'edgecoder-seccomp-'))
    const file = join(dir, 'filter.bpf')
    writeFileSync(file, filter)
    const fd = openSync(file, 'r')
    rmSync(dir, { recursive: true, force: true })
    return {
      command: prlimit,
      args: [
        `--data=${spec.memoryLimitBytes}`,
        '--core=0',
        '--',
        bwrap,
        ...bwrapArgs(readOnly),
        '--seccomp',
        '3',
        '--',
        nodePath,
        ...spec.args,
      ],
      extraFds: [fd],
      done: () => closeSync(fd),
    }
  }
}

/** A kernel without unprivileged user namespaces, or a container that forbids them, fails the probe. */
function verdict(result: ProbeResult, launch: (spec: LaunchSpec) => Launch): Confinement {
  if (result.status !== 0) {
    const why = result.stderr.trim().split('\n').at(-1) || result.error?.message || 'no reason given'
    return unconfined(`bubblewrap could not start a sandbox here: ${why}`)
  }
  return {
    mechanism: 'bubblewrap',
    confined: true,
    memory: 'rlimit-data',
    detail: 'bubblewrap: own namespaces (no network), read-only binds, seccomp, RLIMIT_DATA',
    launch,
  }
}

function unconfined(reason: string): Confinement {
  return {
    mechanism: 'none',
    confined: false,
    memory: 'none',
    detail: reason,
    launch: (spec) => ({ command: process.execPath, args: spec.args, extraFds: [], done: () => {} }),
  }
}

export { unconfined }
