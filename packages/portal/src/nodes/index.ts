export { Activation, type NodeRow } from './activation.ts'
export { type NodeDeps, nodeRoutes } from './routes.ts'
export { SeedDirectory } from './seed-directory.ts'
