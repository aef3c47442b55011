import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import axios, { type AxiosInstance } from 'axios';
import type { AppConfig } from '@llmproxy/config';
import { SqlClient } from '@llmproxy/persistence';
import { SettingsService } from '@llmproxy/settings';

/** How long each readiness check may take before it counts as failed. */
export const READINESS_TIMEOUT_MS = 2_000;

export interface Readiness {
  ready: boolean;
  checks: { database: boolean; ollama: boolean };
}

/**
 * Whether this replica can serve: the database answers a trivial query and Ollama answers
 * GET /api/version, each within two seconds, checked in parallel on every call (a load balancer's
 * probe is cheap next to one inference request). Control plane: axios, as the admin's Ollama probe.
 */
@Injectable()
export class ReadinessCheck {
  private readonly http: AxiosInstance = axios.create({ timeout: READINESS_TIMEOUT_MS, proxy: false, maxRedirects: 0 });
  private readonly fallbackOllamaUrl: string;

  constructor(
    private readonly sql: SqlClient,
    private readonly settings: SettingsService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.fallbackOllamaUrl = config.get('ollamaUrl', { infer: true });
  }

  async check(): Promise<Readiness> {
    const [database, ollama] = await Promise.all([this.database(), this.ollama()]);
    return { ready: database && ollama, checks: { database, ollama } };
  }

  private async database(): Promise<boolean> {
    try {
      const row = await withTimeout(this.sql.one<{ ok: number }>('SELECT 1 AS ok'));
      return Number(row?.ok) === 1;
    } catch {
      return false;
    }
  }

  private async ollama(): Promise<boolean> {
    // The admin's setting wins; with the database down, the configured URL still tells about Ollama.
    const ollamaUrl = await withTimeout(this.settings.get()).then(
      (settings) => settings.ollamaUrl,
      () => this.fallbackOllamaUrl,
    );
    try {
      const response = await this.http.get<{ version?: unknown }>(`${ollamaUrl}/api/version`);
      return typeof response.data?.version === 'string';
    } catch {
      return false;
    }
  }
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), READINESS_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
