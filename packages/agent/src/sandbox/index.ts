export {
  SandboxNotStartedError,
  SandboxRequestError,
  SandboxStartError,
  SandboxStoppedError,
} from './errors.ts'
export { type SandboxLanguageStatus, SandboxPool } from './pool.ts'
export type {
  SandboxLanguage,
  SandboxLogger,
  SandboxOptions,
  SandboxOutcome,
  SandboxReport,
  SandboxRequest,
} from './types.ts'
