export { DEFAULT_SETTINGS, policyAllowsWork, SettingsStore } from './settings-store.ts'
