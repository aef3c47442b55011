export * from './settings.js';
export { SettingsService, SETTINGS_DEFAULTS } from './settings.service.js';
