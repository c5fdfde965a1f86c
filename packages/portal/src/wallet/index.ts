export { DEFAULT_WALLET_OPTIONS, type WalletOptions } from './options.ts'
export { type WalletDeps, walletRoutes } from './routes.ts'
export { Wallet } from './wallet.ts'
