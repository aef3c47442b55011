import { Initial1764100000000 } from './1764100000000-initial.js';
import { Quota1764200000000 } from './1764200000000-quota.js';
import { Admin1764300000000 } from './1764300000000-admin.js';
import { QuotaAdmit1764400000000 } from './1764400000000-quota-admit.js';
import { QuotaBatch1764500000000 } from './1764500000000-quota-batch.js';
import { AdminAuthFailures1764600000000 } from './1764600000000-admin-auth-failures.js';
import { QuotaRules1764700000000 } from './1764700000000-quota-rules.js';
import { SqliteOwner1764800000000 } from './1764800000000-sqlite-owner.js';
import { Upstreams1764900000000 } from './1764900000000-upstreams.js';
import { UpstreamReservedSlots1765000000000 } from './1765000000000-upstream-reserved-slots.js';
import { UsageUpstreams1765100000000 } from './1765100000000-usage-upstreams.js';
import { AdminAccounts1765200000000 } from './1765200000000-admin-accounts.js';
import { Alerts1765300000000 } from './1765300000000-alerts.js';

/** Every migration, oldest first. One set serves SQLite and PostgreSQL. */
export const migrations = [Initial1764100000000, Quota1764200000000, Admin1764300000000, QuotaAdmit1764400000000, QuotaBatch1764500000000, AdminAuthFailures1764600000000, QuotaRules1764700000000, SqliteOwner1764800000000, Upstreams1764900000000, UpstreamReservedSlots1765000000000, UsageUpstreams1765100000000, AdminAccounts1765200000000, Alerts1765300000000];
