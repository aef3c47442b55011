import { AdminAccountEntity } from './admin-account.entity.js';
import { AlertDeliveryEntity, AlertWebhookEntity } from './alert.entity.js';
import { AdminSessionEntity } from './admin-session.entity.js';
import { ApiKeyEntity } from './api-key.entity.js';
import { AuditLogEntity } from './audit-log.entity.js';
import { SettingEntity } from './setting.entity.js';
import { UpstreamEntity } from './upstream.entity.js';

export { AdminAccountEntity, AlertDeliveryEntity, AlertWebhookEntity, AdminSessionEntity, ApiKeyEntity, AuditLogEntity, SettingEntity, UpstreamEntity };
export const entities = [ApiKeyEntity, SettingEntity, AdminSessionEntity, AuditLogEntity, UpstreamEntity, AdminAccountEntity, AlertWebhookEntity, AlertDeliveryEntity];
