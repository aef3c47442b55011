import { Inject, Injectable } from '@nestjs/common';
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

  async update(patch: Partial<Settings>): Promise<Settings> {
    const now = this.sql.timestamp(new Date());
    for (const [field, value] of Object.entries(patch) as [keyof Settings, unknown][]) {
      if (value === undefined || !(field in SETTING_KEYS)) continue;
      await this.sql.run(
        'INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
        [SETTING_KEYS[field], JSON.stringify(value), now],
      );
    }
    caches.delete(this.sql);
    return this.get();
  }
}

export { defaultSettings };
