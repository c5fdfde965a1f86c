export {
  DEFAULT_SETTINGS,
  policyAllowsWork,
  type SettingCheck,
  SettingRefusedError,
  SettingsStore,
} from './settings-store.ts'
