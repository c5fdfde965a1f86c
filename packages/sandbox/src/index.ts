export {
  Sandbox,
  type SandboxProcessOptions,
  type SandboxProcessStatus,
  type SandboxStatus,
} from './client/sandbox.ts'
export {
  buildSeccompFilter,
  type Confinement,
  detectConfinement,
  probeConfinement,
  unconfined,
} from './confine/index.ts'
export {
  SandboxNotStartedError,
  SandboxRequestError,
  SandboxStartError,
  SandboxStoppedError,
} from './errors.ts'
export { type SandboxLanguageStatus, SandboxPool } from './runner/pool.ts'
export type {
  SandboxLanguage,
  SandboxLogger,
  SandboxOptions,
  SandboxOutcome,
  SandboxReport,
  SandboxRequest,
} from './types.ts'
