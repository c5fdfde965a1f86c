/** What starting one sandbox process needs: Node's arguments and the process memory limit. */
export interface LaunchSpec {
  args: string[]
  memoryLimitBytes: number
}

/** How to start it: the command, file descriptors to hand it from 3 on, and what to free after. */
export interface Launch {
  command: string
  args: string[]
  extraFds: number[]
  done: () => void
}

/** The OS wall around the sandbox process on this machine, as found at start. */
export interface Confinement {
  mechanism: 'bubblewrap' | 'sandbox-exec' | 'none'
  /** True when the OS mechanism is in place; false: only the interpreters stand between guest and host. */
  confined: boolean
  /** What holds the process's memory: RLIMIT_DATA (private writable memory), or nothing beyond the interpreters' own limits. */
  memory: 'rlimit-data' | 'none'
  /** What is in place, or why nothing is. */
  detail: string
  launch(spec: LaunchSpec): Launch
}
