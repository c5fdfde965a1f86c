export * from './canonical.ts'
export * from './errors.ts'
export * from './runtime.ts'
export * from './settings.ts'
