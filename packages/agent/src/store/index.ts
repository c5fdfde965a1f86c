export { type Migrations, Store } from './database.ts'
export { DataDirLock, DataDirLockedError } from './lock.ts'
