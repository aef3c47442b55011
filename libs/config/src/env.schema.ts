import { Transform } from 'class-transformer';
import { isIP } from 'node:net';
import {
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  Validate,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';

@ValidatorConstraint({ name: 'timeZone' })
class IsTimeZone implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string' || value === '') return false;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: value });
      return true;
    } catch {
      return false;
    }
  }
  defaultMessage(): string {
    return 'must be an IANA time zone such as Europe/Berlin';
  }
}

@ValidatorConstraint({ name: 'httpUrl' })
class IsHttpUrl implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string') return false;
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }
  defaultMessage(): string {
    return 'must be an http(s) URL such as http://localhost:11434';
  }
}

@ValidatorConstraint({ name: 'httpUrlList' })
class IsHttpUrlList implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string') return false;
    const urls = value.split(',').map((url) => url.trim()).filter(Boolean);
    return urls.length > 0 && urls.every((url) => new IsHttpUrl().validate(url));
  }
  defaultMessage(): string {
    return 'must be comma-separated http(s) URLs such as http://gpu1:11434,http://gpu2:11434';
  }
}

@ValidatorConstraint({ name: 'trustProxy' })
class IsTrustProxy implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && parseTrustProxy(value) !== undefined;
  }
  defaultMessage(): string {
    return 'must be false, true, a number of proxy hops, or a comma-separated list of addresses/subnets (loopback, 10.0.0.0/8, ...)';
  }
}

const NAMED_SUBNETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * Express's `trust proxy` from TRUST_PROXY: false (default: the TCP peer is the client), true (trust
 * every X-Forwarded-For hop), a hop count, or the addresses/subnets of the reverse proxies.
 * undefined when the value is none of these.
 */
export function parseTrustProxy(raw: string): boolean | number | string[] | undefined {
  const value = raw.trim().toLowerCase();
  if (value === 'false' || value === 'off' || value === 'no' || value === '0') return false;
  if (value === 'true' || value === 'on' || value === 'yes') return true;
  if (/^\d+$/.test(value)) return Number(value) <= 100 ? Number(value) : undefined;
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) return undefined;
  for (const entry of entries) {
    if (NAMED_SUBNETS.has(entry)) continue;
    const [address, prefix, extra] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || extra !== undefined) return undefined;
    if (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128))) return undefined;
  }
  return entries;
}

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;

/** The environment as the operator writes it; every field a variable of DESIGN.md §7 and beyond. */
export class EnvSchema {
  @IsString()
  @IsNotEmpty({ message: 'is required (the admin API and UI are protected by it)' })
  ADMIN_PASSWORD!: string;

  @IsString() @IsNotEmpty()
  PROXY_HOST = '0.0.0.0';

  @Transform(toInt) @Min(0, { message: 'must be a port number' }) @Max(65535, { message: 'must be a port number' }) @IsInt({ message: 'must be a port number' })
  PROXY_PORT = 8000;

  @IsString() @IsNotEmpty()
  ADMIN_HOST = '0.0.0.0';

  @Transform(toInt) @Min(0, { message: 'must be a port number' }) @Max(65535, { message: 'must be a port number' }) @IsInt({ message: 'must be a port number' })
  ADMIN_PORT = 8001;

  /** Hours an admin session (POST /api/login) stays valid. */
  @Transform(toInt) @Min(1) @Max(8760) @IsInt()
  ADMIN_SESSION_HOURS = 12;

  @IsString()
  @Matches(/^(sqlite:\/\/\/.+|sqlite::memory:|postgres(ql)?:\/\/.+)$/, {
    message: 'must be sqlite:///path/to/file.db or postgres://user:pass@host:5432/db',
  })
  DATABASE_URL = 'sqlite:///./data/llmproxy.db';

  @Validate(IsHttpUrl)
  OLLAMA_URL = 'http://localhost:11434';

  /** Several Ollama servers, comma-separated: seed the upstream list on first start (instead of OLLAMA_URL). */
  @IsOptional() @Validate(IsHttpUrlList)
  OLLAMA_URLS?: string;

  /** `max_parallel` of the upstreams seeded on first start (requests the gateway sends each at once). */
  @Transform(toInt) @Min(1) @Max(1024) @IsInt()
  UPSTREAM_MAX_PARALLEL = 4;

  /** Requests that may wait in this process for a free Ollama slot; beyond that: "overloaded" at once. */
  @Transform(toInt) @Min(0) @Max(1_000_000) @IsInt()
  QUEUE_MAX = 500;

  /** Seconds a request may wait for a free Ollama slot before it is answered "overloaded". */
  @Transform(toInt) @Min(1) @Max(86_400) @IsInt()
  QUEUE_TIMEOUT_S = 120;

  /** Seconds between two polls of each Ollama server's models (/api/tags) and loaded models (/api/ps). */
  @Transform(toInt) @Min(1) @Max(3600) @IsInt()
  UPSTREAM_POLL_S = 5;

  @Validate(IsTimeZone)
  APP_TZ = 'Europe/Berlin';

  @IsString() @IsNotEmpty()
  LOG_FILE = 'logs/usage.log';

  @IsString()
  ALLOWED_ORIGINS = 'http://localhost:4200';

  /** The model that serves the vendors' own names (claude-*, gpt-*, …) when the admin has set none. */
  @IsOptional() @IsString()
  DEFAULT_MODEL?: string;

  /** The earlier name of DEFAULT_MODEL, still read when DEFAULT_MODEL is unset. */
  @IsOptional() @IsString()
  ANTHROPIC_DEFAULT_MODEL?: string;

  @IsIn(['error', 'warn', 'info', 'debug'])
  LOG_LEVEL = 'info';

  /** Largest request body the proxy reads, in MiB (images make chat bodies large). */
  @Transform(toInt) @Min(1) @Max(1024) @IsInt()
  BODY_LIMIT_MB = 20;

  /** Seconds to wait for Ollama's first byte before answering 504. */
  @Transform(toInt) @Min(1) @Max(86_400) @IsInt()
  UPSTREAM_TIMEOUT_S = 300;

  /** Seconds of silence tolerated between two chunks of a stream. */
  @Transform(toInt) @Min(1) @Max(86_400) @IsInt()
  UPSTREAM_IDLE_TIMEOUT_S = 600;

  /** Seconds a write to a client that stopped reading may stay blocked before the stream is cut (Ollama aborted, request settled). */
  @Transform(toInt) @Min(1) @Max(86_400) @IsInt()
  CLIENT_STALL_TIMEOUT_S = 60;

  /** Days of rotated usage logs kept. */
  @Transform(toInt) @Min(1) @Max(3650) @IsInt()
  LOG_RETENTION_DAYS = 30;

  /** Bearer token a Prometheus scraper may use for GET /metrics instead of the admin credentials. */
  @IsOptional() @IsString() @Matches(/^\S{16,}$/, { message: 'must be at least 16 characters without spaces' })
  METRICS_TOKEN?: string;

  /** Seconds in-flight requests and streams get to finish after SIGTERM before they are cut. */
  @Transform(toInt) @Min(0) @Max(3600) @IsInt()
  SHUTDOWN_GRACE_S = 30;

  /** Seconds between two checks of the keys' usage and expiry (and of the database) for alerts. */
  @Transform(toInt) @Min(1) @Max(3600) @IsInt()
  ALERT_CHECK_S = 30;

  /** Milliseconds before an alert's first retry; each further retry waits twice as long (5 attempts: 1+2+4+8 × base). */
  @Transform(toInt) @Min(10) @Max(3_600_000) @IsInt()
  ALERT_RETRY_BASE_MS = 60_000;

  /** On SQLite: seconds a starting process waits for the file's owner to stop before it refuses to start. */
  @Transform(toInt) @Min(0) @Max(3600) @IsInt()
  SQLITE_OWNER_WAIT_S = 60;

  /** Express's `trust proxy`: which X-Forwarded-For hops to believe (client address for logs and login throttling). */
  @Validate(IsTrustProxy)
  TRUST_PROXY = 'false';

  /** OpenID Connect sign-in for the admin UI: the provider's issuer URL. Unset: no single sign-on. */
  @IsOptional() @Validate(IsHttpUrl)
  OIDC_ISSUER?: string;

  @IsOptional() @IsString()
  OIDC_CLIENT_ID?: string;

  /** Absent: a public client (PKCE only, no client authentication at the token endpoint). */
  @IsOptional() @IsString()
  OIDC_CLIENT_SECRET?: string;

  /** Where the provider sends the browser back; default `<origin of the admin request>/api/oidc/callback`. */
  @IsOptional() @Validate(IsHttpUrl)
  OIDC_REDIRECT_URL?: string;

  /** Space-separated scopes asked for; `openid` is always added. */
  @IsString() @IsNotEmpty()
  OIDC_SCOPES = 'openid profile email';

  /** The claim (ID token or userinfo) whose value(s) decide the role; a dotted path reaches nested claims. */
  @IsString() @IsNotEmpty()
  OIDC_ROLE_CLAIM = 'groups';

  /** Comma-separated values of the role claim that make an admin. */
  @IsOptional() @IsString()
  OIDC_ADMIN_VALUES?: string;

  /** Comma-separated values of the role claim that make a viewer. */
  @IsOptional() @IsString()
  OIDC_VIEWER_VALUES?: string;

  /** The name on the login page's button ("Sign in with …"). */
  @IsString() @IsNotEmpty()
  OIDC_PROVIDER_NAME = 'single sign-on';

  /** true: the UI offers only single sign-on and POST /api/login refuses named accounts (ADMIN_PASSWORD still works). */
  @IsIn(['true', 'false'], { message: 'must be true or false' })
  OIDC_ONLY = 'false';
}

/** Variables listed in `.env.example`, in order, with what they mean. Tests keep the two in step. */
export const ENV_VARIABLES = [
  'ADMIN_PASSWORD',
  'PROXY_HOST',
  'PROXY_PORT',
  'ADMIN_HOST',
  'ADMIN_PORT',
  'ADMIN_SESSION_HOURS',
  'DATABASE_URL',
  'OLLAMA_URL',
  'OLLAMA_URLS',
  'UPSTREAM_MAX_PARALLEL',
  'QUEUE_MAX',
  'QUEUE_TIMEOUT_S',
  'UPSTREAM_POLL_S',
  'APP_TZ',
  'LOG_FILE',
  'ALLOWED_ORIGINS',
  'DEFAULT_MODEL',
  'ANTHROPIC_DEFAULT_MODEL',
  'LOG_LEVEL',
  'BODY_LIMIT_MB',
  'UPSTREAM_TIMEOUT_S',
  'UPSTREAM_IDLE_TIMEOUT_S',
  'CLIENT_STALL_TIMEOUT_S',
  'LOG_RETENTION_DAYS',
  'METRICS_TOKEN',
  'SHUTDOWN_GRACE_S',
  'ALERT_CHECK_S',
  'ALERT_RETRY_BASE_MS',
  'SQLITE_OWNER_WAIT_S',
  'TRUST_PROXY',
  'OIDC_ISSUER',
  'OIDC_CLIENT_ID',
  'OIDC_CLIENT_SECRET',
  'OIDC_REDIRECT_URL',
  'OIDC_SCOPES',
  'OIDC_ROLE_CLAIM',
  'OIDC_ADMIN_VALUES',
  'OIDC_VIEWER_VALUES',
  'OIDC_PROVIDER_NAME',
  'OIDC_ONLY',
] as const satisfies readonly (keyof EnvSchema)[];
