import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import axios, { type AxiosInstance } from 'axios';
import type { AppConfig } from '@llmproxy/config';
import { SqlClient } from '@llmproxy/persistence';
import { QuotaService } from '@llmproxy/quota';
import { UpstreamPool } from '@llmproxy/upstreams';

/** How long each readiness check may take before it counts as failed. */
export const READINESS_TIMEOUT_MS = 2_000;
/** How long one probe of the database and Ollama answers every /readyz (on both listeners). */
export const READINESS_CACHE_MS = 1_000;

export interface Readiness {
  ready: boolean;
  checks: { database: boolean; ollama: boolean };
}

interface Probe {
  startedAt: number;
  result: Promise<Readiness['checks']>;
}

/**
 * One probe per process, shared by the two listeners' ReadinessChecks (each Nest app builds its
 * own): keyed by the process's one SqlClient.
 */
const probes = new WeakMap<SqlClient, Probe>();

/**
 * Whether this replica can serve: the database answers a trivial query and at least one enabled
 * Ollama server answers GET /api/version, each within two seconds, checked in parallel. /readyz needs no credentials, so
 * a flood of probes must not become a flood of queries and Ollama calls: one probe answers every
 * /readyz for a second after it started (and those that arrive while it runs). Whether the quota
 * ledger can write is known in memory and asked every time: while it cannot, admissions are
 * refused, so the replica is not ready (`database: false`). Control plane: axios, as the admin's
 * Ollama probe.
 */
@Injectable()
export class ReadinessCheck {
  private readonly http: AxiosInstance = axios.create({ timeout: READINESS_TIMEOUT_MS, proxy: false, maxRedirects: 0 });
  private readonly fallbackOllamaUrl: string;

  constructor(
    private readonly sql: SqlClient,
    private readonly pool: UpstreamPool,
    private readonly quota: QuotaService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.fallbackOllamaUrl = config.get('ollamaUrl', { infer: true });
  }

  async check(): Promise<Readiness> {
    const probed = await this.probe();
    const database = probed.database && this.quota.writeFailure === undefined;
    return { ready: database && probed.ollama, checks: { database, ollama: probed.ollama } };
  }

  private probe(): Promise<Readiness['checks']> {
    const now = Date.now();
    const last = probes.get(this.sql);
    if (last && now - last.startedAt < READINESS_CACHE_MS) return last.result;
    const result = Promise.all([this.database(), this.ollama()]).then(([database, ollama]) => ({ database, ollama }));
    // Probes start at most once a second, even when one takes longer (a timeout): never a pile of them.
    probes.set(this.sql, { startedAt: now, result });
    return result;
  }

  private async database(): Promise<boolean> {
    try {
      const row = await withTimeout(this.sql.one<{ ok: number }>('SELECT 1 AS ok'));
      return Number(row?.ok) === 1;
    } catch {
      return false;
    }
  }

  /** Ready while at least one enabled upstream answers (the pool's list is in memory: no database read). */
  private async ollama(): Promise<boolean> {
    const enabled = this.pool.enabled().map((upstream) => upstream.url);
    const urls = enabled.length > 0 || this.pool.upstreams().length > 0 ? enabled : [this.fallbackOllamaUrl];
    const answers = await Promise.all(urls.map((url) => this.answers(url)));
    return answers.some(Boolean);
  }

  private async answers(ollamaUrl: string): Promise<boolean> {
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
