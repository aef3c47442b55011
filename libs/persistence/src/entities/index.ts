import { ApiKeyEntity } from './api-key.entity.js';
import { SettingEntity } from './setting.entity.js';

export { ApiKeyEntity, SettingEntity };
export const entities = [ApiKeyEntity, SettingEntity];
