import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { parse as parseDotenv } from 'dotenv';
import { EnvSchema, ENV_VARIABLES, parseTrustProxy } from './env.schema.js';

export type DatabaseConfig =
  | { type: 'sqlite'; path: string; url: string }
  | { type: 'postgres'; url: string };

/** Configuration as the code reads it: validated once at start, typed, frozen. */
export interface AppConfig {
  adminPassword: string;
  proxy: { host: string; port: number };
  admin: { host: string; port: number };
  /** Lifetime of an admin session token from POST /api/login. */
  adminSessionHours: number;
  database: DatabaseConfig;
  /** Seeds the `ollama_url` setting on first start; the setting wins afterwards. */
  ollamaUrl: string;
  /** OLLAMA_URLS: seeds the upstream list on first start (several servers); empty when unset. */
  ollamaUrls: string[];
  /** max_parallel of the upstreams seeded on first start. */
  upstreamMaxParallel: number;
  /** The fair queue's bounds (libs/upstreams Scheduler), per process. */
  queueMax: number;
  queueTimeoutMs: number;
  /** How often each upstream's models and loaded models are polled. */
  upstreamPollMs: number;
  timeZone: string;
  logFile: string;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  logRetentionDays: number;
  allowedOrigins: string[];
  anthropicDefaultModel?: string;
  bodyLimitBytes: number;
  upstreamTimeoutMs: number;
  upstreamIdleTimeoutMs: number;
  /** How long a write to a client that stopped reading may stay blocked before the stream is cut. */
  clientStallTimeoutMs: number;
  /** Bearer token accepted on GET /metrics besides the admin credentials; undefined = admin only. */
  metricsToken?: string;
  /** How long in-flight requests may run on after SIGTERM/SIGINT before they are cut. */
  shutdownGraceMs: number;
  /** Alerts: how often keys' usage and expiry and the database are checked; the first retry's wait (doubling after). */
  alertCheckMs: number;
  alertRetryBaseMs: number;
  /** On SQLite: how long a starting process waits for the process that serves the file to stop. */
  sqliteOwnerWaitMs: number;
  /** Express's `trust proxy` setting for both listeners (false: the TCP peer is the client). */
  trustProxy: boolean | number | string[];
  /** OpenID Connect sign-in for the admin UI; undefined unless OIDC_ISSUER is set. */
  oidc?: OidcConfig;
}

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** undefined: derived from each login request's origin (`<origin>/api/oidc/callback`). */
  redirectUrl?: string;
  scopes: string[];
  roleClaim: string;
  adminValues: string[];
  viewerValues: string[];
  providerName: string;
  /** The UI offers only single sign-on; POST /api/login refuses named accounts. */
  only: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

/** `sqlite:///./data/x.db` (relative) and `sqlite:////abs/x.db` (absolute), as the seed wrote them. */
export function parseDatabaseUrl(url: string, cwd = process.cwd()): DatabaseConfig {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { type: 'postgres', url };
  if (url === 'sqlite::memory:') return { type: 'sqlite', path: ':memory:', url };
  const path = url.slice('sqlite:///'.length);
  return { type: 'sqlite', path: resolve(cwd, path), url };
}

export interface LoadConfigOptions {
  /**
   * The server refuses to start without ADMIN_PASSWORD; the key CLI never serves the admin API, so it
   * passes false and gets `adminPassword: ''` when none is set (nor is its length checked). Default true.
   */
  requireAdminPassword?: boolean;
}

/**
 * The shortest ADMIN_PASSWORD the server starts with. The admin throttle allows ten guesses a minute
 * per address, 14,400 a day: enough to exhaust a short password from a modest number of addresses.
 */
export const ADMIN_PASSWORD_MIN_LENGTH = 12;

/**
 * `LLMPROXY_DEV=1`, which `npm run dev` (scripts/dev.mjs) sets in its own environment, lets a shorter
 * ADMIN_PASSWORD through (the dev script's default is `dev`). Read from the environment only, never
 * from `.env`, so a copied `.env` cannot carry it into production.
 */
export const DEV_MODE_VARIABLE = 'LLMPROXY_DEV';

/**
 * Reads `.env` from `cwd` (the environment wins over it), validates every variable and returns the
 * typed configuration. Throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), options: LoadConfigOptions = {}): AppConfig {
  const requireAdminPassword = options.requireAdminPassword ?? true;
  const envFile = resolve(cwd, '.env');
  const fromFile = existsSync(envFile) ? parseDotenv(readFileSync(envFile)) : {};
  const raw: Record<string, string> = {};
  for (const name of ENV_VARIABLES) {
    // An empty variable means "not set", as in the seed's .env files: `PROXY_PORT=` in the
    // environment (compose's `${PROXY_PORT}` when the host lacks it) leaves `.env`'s value in force.
    const value = nonEmpty(env[name]) ?? nonEmpty(fromFile[name]);
    if (value !== undefined) raw[name] = value;
  }
  const schema = plainToInstance(EnvSchema, raw);
  const errors = validateSync(schema, { forbidUnknownValues: false, stopAtFirstError: true }).filter(
    (error) => requireAdminPassword || error.property !== 'ADMIN_PASSWORD',
  );
  const devMode = env[DEV_MODE_VARIABLE] === '1';
  const passwordError = errors.some((error) => error.property === 'ADMIN_PASSWORD');
  if (requireAdminPassword && !devMode && !passwordError && [...(schema.ADMIN_PASSWORD ?? '')].length < ADMIN_PASSWORD_MIN_LENGTH) {
    // Never the value itself: the message is printed.
    throw new ConfigError('ADMIN_PASSWORD', `must be at least ${ADMIN_PASSWORD_MIN_LENGTH} characters (only \`npm run dev\` accepts a shorter one)`);
  }
  if (errors.length > 0) {
    const first = errors[0]!;
    const message = Object.values(first.constraints ?? {})[0] ?? 'is invalid';
    const shown = message.startsWith(first.property) ? message.slice(first.property.length + 1) : message;
    throw new ConfigError(first.property, shown);
  }
  const oidc = oidcConfig(schema);
  return Object.freeze({
    adminPassword: schema.ADMIN_PASSWORD ?? '',
    proxy: { host: schema.PROXY_HOST, port: schema.PROXY_PORT },
    admin: { host: schema.ADMIN_HOST, port: schema.ADMIN_PORT },
    adminSessionHours: schema.ADMIN_SESSION_HOURS,
    database: parseDatabaseUrl(schema.DATABASE_URL, cwd),
    ollamaUrl: schema.OLLAMA_URL.replace(/\/+$/, ''),
    ollamaUrls: (schema.OLLAMA_URLS ?? '').split(',').map((url) => url.trim().replace(/\/+$/, '')).filter(Boolean),
    upstreamMaxParallel: schema.UPSTREAM_MAX_PARALLEL,
    queueMax: schema.QUEUE_MAX,
    queueTimeoutMs: schema.QUEUE_TIMEOUT_S * 1000,
    upstreamPollMs: schema.UPSTREAM_POLL_S * 1000,
    timeZone: schema.APP_TZ,
    logFile: resolve(cwd, schema.LOG_FILE),
    logLevel: schema.LOG_LEVEL as AppConfig['logLevel'],
    logRetentionDays: schema.LOG_RETENTION_DAYS,
    allowedOrigins: schema.ALLOWED_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean),
    anthropicDefaultModel: schema.DEFAULT_MODEL || schema.ANTHROPIC_DEFAULT_MODEL || undefined,
    bodyLimitBytes: schema.BODY_LIMIT_MB * 1024 * 1024,
    upstreamTimeoutMs: schema.UPSTREAM_TIMEOUT_S * 1000,
    upstreamIdleTimeoutMs: schema.UPSTREAM_IDLE_TIMEOUT_S * 1000,
    clientStallTimeoutMs: schema.CLIENT_STALL_TIMEOUT_S * 1000,
    metricsToken: schema.METRICS_TOKEN || undefined,
    shutdownGraceMs: schema.SHUTDOWN_GRACE_S * 1000,
    alertCheckMs: schema.ALERT_CHECK_S * 1000,
    alertRetryBaseMs: schema.ALERT_RETRY_BASE_MS,
    sqliteOwnerWaitMs: schema.SQLITE_OWNER_WAIT_S * 1000,
    trustProxy: parseTrustProxy(schema.TRUST_PROXY)!,
    ...(oidc ? { oidc } : {}),
  });
}

function oidcConfig(schema: EnvSchema): OidcConfig | undefined {
  const only = schema.OIDC_ONLY === 'true';
  if (!schema.OIDC_ISSUER) {
    if (only) throw new ConfigError('OIDC_ONLY', 'needs OIDC_ISSUER (single sign-on is off without it)');
    return undefined;
  }
  if (!schema.OIDC_CLIENT_ID) throw new ConfigError('OIDC_CLIENT_ID', 'is required when OIDC_ISSUER is set');
  const list = (value: string | undefined) => (value ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
  const adminValues = list(schema.OIDC_ADMIN_VALUES);
  const viewerValues = list(schema.OIDC_VIEWER_VALUES);
  if (adminValues.length + viewerValues.length === 0) {
    throw new ConfigError('OIDC_ADMIN_VALUES', `or OIDC_VIEWER_VALUES must name at least one value of the claim ${schema.OIDC_ROLE_CLAIM} (else nobody could sign in)`);
  }
  const scopes = [...new Set(['openid', ...schema.OIDC_SCOPES.split(/[\s,]+/).filter(Boolean)])];
  return {
    issuer: schema.OIDC_ISSUER,
    clientId: schema.OIDC_CLIENT_ID,
    ...(schema.OIDC_CLIENT_SECRET ? { clientSecret: schema.OIDC_CLIENT_SECRET } : {}),
    ...(schema.OIDC_REDIRECT_URL ? { redirectUrl: schema.OIDC_REDIRECT_URL } : {}),
    scopes,
    roleClaim: schema.OIDC_ROLE_CLAIM.trim(),
    adminValues,
    viewerValues,
    providerName: schema.OIDC_PROVIDER_NAME.trim(),
    only,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}
