import { Inject, Injectable, Optional } from '@nestjs/common';
import { AuditLog, diffFields, redactUrl } from '@llmproxy/audit';
import { SqlClient } from '@llmproxy/persistence';
import { defaultSettings, SETTING_KEYS, type Settings } from './settings.js';

/** Injection token for the values settings start from (OLLAMA_URL, ANTHROPIC_DEFAULT_MODEL). */
export const SETTINGS_DEFAULTS = Symbol('SETTINGS_DEFAULTS');

/**
 * How long a replica may act on settings another replica changed. Writes through this process are
 * seen at once: the cache is shared by both listeners of the process (keyed by the SqlClient).
 */
const TTL_MS = 2_000;
const caches = new WeakMap<SqlClient, { value: Settings; until: number }>();

@Injectable()
export class SettingsService {
  constructor(
    private readonly sql: SqlClient,
    @Inject(SETTINGS_DEFAULTS) private readonly defaults: Settings,
    /** Absent only where nothing is edited (the boot-time seed). */
    @Optional() private readonly audit?: AuditLog,
  ) {}

  /** Writes OLLAMA_URL into the table the first time, so the UI's later edits win over the env. */
  async seed(): Promise<void> {
    await this.sql.run(
      'INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING',
      [SETTING_KEYS.ollamaUrl, JSON.stringify(this.defaults.ollamaUrl), this.sql.timestamp(new Date())],
    );
  }

  async get(now = Date.now()): Promise<Settings> {
    const cached = caches.get(this.sql);
    if (cached && cached.until > now) return cached.value;
    const rows = await this.sql.all<{ key: string; value: string }>('SELECT key, value FROM settings');
    const stored = new Map(rows.map((row) => [row.key, row.value]));
    const value = { ...this.defaults };
    for (const [field, key] of Object.entries(SETTING_KEYS) as [keyof Settings, string][]) {
      const raw = stored.get(key);
      if (raw !== undefined) (value as Record<string, unknown>)[field] = JSON.parse(raw);
    }
    caches.set(this.sql, { value, until: now + TTL_MS });
    return value;
  }

  /** Writes the given fields and records the ones that changed in the audit log (URL passwords masked). */
  async update(patch: Partial<Settings>): Promise<Settings> {
    caches.delete(this.sql);
    const before = await this.get();
    const now = this.sql.timestamp(new Date());
    for (const [field, value] of Object.entries(patch) as [keyof Settings, unknown][]) {
      if (value === undefined || !(field in SETTING_KEYS)) continue;
      await this.sql.run(
        'INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
        [SETTING_KEYS[field], JSON.stringify(value), now],
      );
    }
    caches.delete(this.sql);
    const after = await this.get();
    const changes = diffFields(auditView(before), auditView(after), Object.values(SETTING_KEYS));
    if (this.audit && Object.keys(changes).length > 0) {
      await this.audit.record({ action: 'settings.update', targetType: 'settings', targetName: 'settings', changes });
    }
    return after;
  }
}

/** Settings under their stored (snake_case) names, as the admin API shows them. */
function auditView(settings: Settings): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(SETTING_KEYS) as [keyof Settings, string][]) view[key] = settings[field];
  view[SETTING_KEYS.ollamaUrl] = redactUrl(settings.ollamaUrl);
  return view;
}

export { defaultSettings };
