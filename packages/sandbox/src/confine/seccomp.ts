// A seccomp filter for the sandbox process, as the classic BPF program bubblewrap loads with
// `--seccomp`. It refuses new processes (fork, vfork, clone without CLONE_THREAD), sockets other
// than Unix ones, and the calls that reach the kernel's attack surface beyond what Node needs
// (ptrace, mounts, namespaces, modules, bpf, keyrings, io_uring, userfaultfd, perf).
// Syscall numbers are the kernel's (arch/x86/entry/syscalls/syscall_64.tbl,
// include/uapi/asm-generic/unistd.h for arm64).

const AUDIT_ARCH = { x64: 0xc000003e, arm64: 0xc00000b7 } as const
export type FilterArch = keyof typeof AUDIT_ARCH

interface Table {
  clone: number
  clone3: number
  socket: number
  denied: number[]
}

const TABLES: Record<FilterArch, Table> = {
  x64: {
    clone: 56,
    clone3: 435,
    socket: 41,
    // fork vfork ptrace syslog personality iopl ioperm mount umount2 swapon swapoff reboot
    // pivot_root chroot acct init_module delete_module kexec_load add_key request_key keyctl
    // unshare perf_event_open name_to_handle_at open_by_handle_at setns process_vm_readv
    // process_vm_writev kcmp finit_module bpf userfaultfd io_uring_setup open_tree move_mount
    // fsopen fsmount pidfd_getfd
    denied: [
      57, 58, 101, 103, 135, 172, 173, 165, 166, 167, 168, 169, 155, 161, 163, 175, 176, 246, 248, 249, 250,
      272, 298, 303, 304, 308, 310, 311, 312, 313, 321, 323, 425, 428, 429, 430, 432, 438,
    ],
  },
  arm64: {
    clone: 220,
    clone3: 435,
    socket: 198,
    denied: [
      117, 116, 92, 40, 39, 224, 225, 142, 41, 51, 89, 105, 106, 104, 217, 218, 219, 97, 241, 264, 265, 268,
      270, 271, 272, 273, 280, 282, 425, 428, 429, 430, 432, 438,
    ],
  },
}

const BPF = { ldAbsW: 0x20, jeq: 0x15, jge: 0x35, jset: 0x45, ret: 0x06 } as const
const RET = { allow: 0x7fff0000, killProcess: 0x80000000, errno: 0x00050000 } as const
const EPERM = 1
const ENOSYS = 38
const EAFNOSUPPORT = 97
const AF_UNIX = 1
const CLONE_THREAD = 0x10000
/** Offsets in `struct seccomp_data`: nr, arch, then the arguments (low word first, little-endian). */
const OFFSET = { nr: 0, arch: 4, arg0: 16 } as const
const X32_SYSCALL_BIT = 0x40000000

type Instruction = [code: number, jt: number, jf: number, k: number]

/** True where a filter can be built for this machine. */
export function filterArch(arch: string = process.arch): FilterArch | null {
  return arch === 'x64' || arch === 'arm64' ? arch : null
}

/** The filter as bytes (`struct sock_filter[]`), ready to hand to bubblewrap. */
export function buildSeccompFilter(arch: FilterArch): Buffer {
  const table = TABLES[arch]
  const program: Instruction[] = [
    [BPF.ldAbsW, 0, 0, OFFSET.arch],
    [BPF.jeq, 1, 0, AUDIT_ARCH[arch]],
    [BPF.ret, 0, 0, RET.killProcess],
    [BPF.ldAbsW, 0, 0, OFFSET.nr],
  ]
  if (arch === 'x64') program.push([BPF.jge, 0, 1, X32_SYSCALL_BIT], [BPF.ret, 0, 0, RET.killProcess])
  for (const nr of table.denied) program.push([BPF.jeq, 0, 1, nr], [BPF.ret, 0, 0, RET.errno | EPERM])
  // glibc falls back to clone() when clone3 is missing, where the flags can be read.
  program.push([BPF.jeq, 0, 1, table.clone3], [BPF.ret, 0, 0, RET.errno | ENOSYS])
  program.push(
    [BPF.jeq, 0, 4, table.clone],
    [BPF.ldAbsW, 0, 0, OFFSET.arg0],
    [BPF.jset, 0, 1, CLONE_THREAD],
    [BPF.ret, 0, 0, RET.allow],
    [BPF.ret, 0, 0, RET.errno | EPERM],
  )
  program.push(
    [BPF.jeq, 0, 4, table.socket],
    [BPF.ldAbsW, 0, 0, OFFSET.arg0],
    [BPF.jeq, 0, 1, AF_UNIX],
    [BPF.ret, 0, 0, RET.allow],
    [BPF.ret, 0, 0, RET.errno | EAFNOSUPPORT],
  )
  program.push([BPF.ret, 0, 0, RET.allow])
  const bytes = Buffer.alloc(program.length * 8)
  program.forEach(([code, jt, jf, k], i) => {
    bytes.writeUInt16LE(code, i * 8)
    bytes.writeUInt8(jt, i * 8 + 2)
    bytes.writeUInt8(jf, i * 8 + 3)
    bytes.writeUInt32LE(k >>> 0, i * 8 + 4)
  })
  return bytes
}
