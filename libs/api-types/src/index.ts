/**
 * The admin API's JSON (snake_case), shared by the backend that sends it and the Angular UI that
 * reads it. Types only: no runtime code, no Nest, no Node — the UI's compiler reads this file too.
 */
/** Usage of one key in one quota window (the current day or month, in the server's APP_TZ). */
export interface UsageWindow {
  requests: number;
  tokens: number;
  /** Tokens held by requests still running; they count against the limit until settled. */
  reserved_tokens: number;
  request_limit: number | null;
  token_limit: number | null;
  /** ISO 8601 with the server's offset, e.g. 2025-03-30T00:00:00+01:00. */
  resets_at: string;
}

export interface ApiKeyView {
  id: number;
  name: string;
  key_prefix: string;
  is_active: boolean;
  expires_at: string | null;
  created_at: string;
  last_used_at: string | null;
  allowed_models: string[] | null;
  max_concurrent: number | null;
  /** The key's share of the GPU queue when keys wait (turns per round, 1..100). */
  queue_weight: number;
  daily_token_limit: number | null;
  monthly_token_limit: number | null;
  daily_request_limit: number | null;
  monthly_request_limit: number | null;
}

/** A key's usage in the current day and month windows. */
export interface KeyUsage {
  day: UsageWindow;
  month: UsageWindow;
}

export interface ApiKeyWithUsage extends ApiKeyView {
  usage: KeyUsage;
}

/** The answer to create and rotate: the only time the plaintext key is sent. */
export type ApiKeyWithSecret = ApiKeyView & { key: string };

export interface QuotaLimits {
  daily_token_limit: number | null;
  monthly_token_limit: number | null;
  daily_request_limit: number | null;
  monthly_request_limit: number | null;
}

export interface CreateApiKeyRequest extends Partial<QuotaLimits> {
  name: string;
  expires_at?: string;
  allowed_models?: string[];
  max_concurrent?: number;
  queue_weight?: number;
}

/** Absent fields stay as they are; null clears. */
export interface UpdateApiKeyRequest {
  name?: string;
  expires_at?: string | null;
  allowed_models?: string[] | null;
  max_concurrent?: number | null;
  /** Never null: 1 is the default. */
  queue_weight?: number;
}

/** POST /api/login. Without `username` (older clients), the password is ADMIN_PASSWORD's. */
export interface LoginRequest {
  username?: string;
  password: string;
}

export interface LoginResponse {
  token: string;
  expires_at: string;
  /** Who the session belongs to ("admin" for ADMIN_PASSWORD). */
  username: string;
  role: AdminRole;
}

export interface Settings {
  ollama_url: string;
  default_model: string | null;
  model_aliases: Record<string, string>;
  num_ctx: number;
  /** keep_alive a key holder may set is clamped into [min, max] seconds (never 0, never for ever). */
  keep_alive_min_s: number;
  keep_alive_max_s: number;
  /** Largest options.num_ctx of a native request; null = num_ctx. */
  max_num_ctx: number | null;
  /** Options that reload a shared model (num_gpu, main_gpu, use_mmap, num_thread, …) pass when true; removed otherwise. */
  allow_load_options: boolean;
  /** Ollama's cloud models (run on ollama.com with the server owner's account) are refused unless true. */
  allow_cloud_models: boolean;
}

export interface UpdateSettingsRequest extends Partial<Settings> {
  save_unreachable?: boolean;
  /** Save a default model or alias target that no Ollama server has (yet). */
  save_unknown_models?: boolean;
}

export type OllamaStatus = { reachable: true; version: string } | { reachable: false; error: string };

export interface UpdateSettingsResponse {
  settings: Settings;
  ollama: OllamaStatus;
}

export interface OllamaModel {
  name: string;
  model: string;
  modified_at: string;
  size: number;
  digest: string;
  details: Record<string, unknown>;
}

export interface OllamaModelsResponse {
  models: OllamaModel[];
}

export interface ProxyInfo {
  proxy_url: string;
  ollama_base_url: string;
  openai_base_url: string;
  anthropic_base_url: string;
  admin_url: string;
}

export type Granularity = 'day' | 'hour';

export interface UsageQuery {
  /** YYYY-MM-DD, inclusive, in the server's time zone; absent: the server's 30 days up to its today. */
  from?: string;
  to?: string;
  granularity: Granularity;
  key_id?: number | null;
  model?: string | null;
}

export interface UsageRow {
  /** Start of the local day or hour, ISO 8601 with the zone's offset: `2026-11-26T00:00:00+01:00`. */
  bucket: string;
  key_id: number;
  key_name: string | null;
  model: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  estimated_requests: number;
  failed_requests: number;
}

export interface UsageResponse {
  time_zone: string;
  granularity: Granularity;
  from: string;
  to: string;
  series: UsageRow[];
  totals: UsageTotals;
  /**
   * The same range per upstream (Ollama server) that served the requests, with the same key and
   * model filters; ordered by upstream name, `null` last. `upstream: null` counts admitted requests
   * that no upstream served (answered "overloaded", or failed before any upstream answered);
   * requests refused before admission (quota, auth, validation) count nowhere in this report.
   * Counted from the release that added it (migration 1765100000000) on: hours before it — and,
   * during a rolling upgrade on PostgreSQL, settlements of replicas still on the previous release —
   * are in `series` and `totals` but not here.
   */
  upstreams: UsageByUpstream[];
}

/** One upstream's share of a usage report's range. */
export interface UsageByUpstream {
  /** The upstream's admin-given name when the request was served; null: served by none. */
  upstream: string | null;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  failed_requests: number;
}

export interface UsageTotals {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}

export interface AuditEntry {
  id: number;
  at: string;
  action: string;
  /** The admin account behind the change (its username then); null for the CLI, failed logins and rows from before named admins. */
  actor: string | null;
  target_type: string | null;
  target_id: string | null;
  target_name: string | null;
  /** Old and new value of each changed field; never a secret. */
  changes: Record<string, { old: unknown; new: unknown }> | null;
}

/** A failure seen on an upstream (newest first, a few kept). */
export interface UpstreamIncident {
  at: string;
  message: string;
}

export type UpstreamHealth = 'up' | 'down' | 'unknown' | 'disabled';
export type BreakerState = 'closed' | 'open' | 'half_open';

/** One Ollama server as `GET /api/upstreams` answers it: its configuration and this process's view of it. */
export interface UpstreamView {
  id: number;
  name: string;
  /** Passwords masked: never send it back unchanged. */
  url: string;
  enabled: boolean;
  max_parallel: number;
  /** Slots kept for keys with nothing in flight on this upstream (0 <= reserved_slots < max_parallel); absent from gateways before it existed. */
  reserved_slots?: number;
  priority: number;
  /** Each replica polls and counts for itself: this is the answering process's view. */
  status: {
    /** `up`: its last poll answered and its breaker is closed; `down`: out of rotation; `unknown`: not polled yet; `disabled`. */
    health: UpstreamHealth;
    breaker: BreakerState;
    last_poll_at: string | null;
    models: string[];
    loaded: string[];
    in_flight: number;
    queued: number;
    served: number;
    failovers: number;
    recent_errors: UpstreamIncident[];
  };
}

/** POST /api/upstreams; absent fields take the server's defaults (enabled, 4 slots, none reserved, priority 0). */
export interface CreateUpstreamRequest {
  name: string;
  url: string;
  enabled?: boolean;
  max_parallel?: number;
  reserved_slots?: number;
  priority?: number;
}

/** PATCH /api/upstreams/{id}: absent fields stay as they are. */
export type UpdateUpstreamRequest = Partial<CreateUpstreamRequest>;

/** Nest's error body. */
export interface ApiErrorBody {
  statusCode: number;
  message: string | string[];
  error?: string;
}

/** `admin` may do everything; `viewer` reads keys, usage, audit, upstreams and settings and changes nothing. */
export type AdminRole = 'admin' | 'viewer';

/** A named admin account as GET /api/accounts shows it: never the password or its hash. */
export interface AccountView {
  id: number;
  username: string;
  role: AdminRole;
  created_at: string;
  updated_at: string;
  password_changed_at: string;
}

/** POST /api/accounts. */
export interface CreateAccountRequest {
  username: string;
  role: AdminRole;
  password: string;
}

/** PATCH /api/accounts/{id}: absent fields stay as they are; `password` resets it (and ends the account's sessions). */
export type UpdateAccountRequest = Partial<CreateAccountRequest>;

/** GET /api/me: who the credential belongs to. `built_in`: the admin of ADMIN_PASSWORD, not a stored account. */
export interface MeView {
  username: string;
  role: AdminRole;
  built_in: boolean;
  /** An account of the OpenID provider (`oidc:<sub>`): no password here to change. */
  sso: boolean;
}

/** GET /api/auth-methods (no login needed): what the login page offers. */
export interface AuthMethods {
  /** false with OIDC_ONLY: the page shows only the single sign-on button. */
  password: boolean;
  /** Single sign-on with OpenID Connect, when OIDC_ISSUER is set: the button's name and where it goes. */
  sso: { name: string; login_url: string } | null;
}

/** PUT /api/me/password. */
export interface ChangePasswordRequest {
  current_password: string;
  new_password: string;
}

/** GET /api/overview: the first page after login. */
export interface Overview {
  /** The server's time zone and today's local date in it (YYYY-MM-DD). */
  time_zone: string;
  today: string;
  /** Today's requests and tokens over every key, from the usage report (every replica). */
  totals_today: UsageTotals;
  /** This process's last hour, a minute at a time, oldest first (each replica counts what it answered). */
  requests_per_minute: { minute: string; requests: number }[];
  /** This process's refusals and failures over the same hour, by kind. */
  refusals_last_hour: Record<'unauthorized' | 'forbidden' | 'not_found' | 'bad_request' | 'quota_requests' | 'quota_tokens' | 'quota_concurrency' | 'overloaded' | 'upstream', number>;
  /** Streaming responses in progress in this process. */
  streams_in_flight: number;
  /** Each Ollama server as this process sees it. */
  upstreams: { id: number; name: string; health: UpstreamHealth; loaded: string[]; in_flight: number; max_parallel: number; queued: number }[];
  /** The active keys nearest a limit (highest share used first, at most 5; only keys with a limit and some use). */
  keys_near_limits: KeyNearLimit[];
}

export interface KeyNearLimit {
  id: number;
  name: string;
  window: 'day' | 'month';
  kind: 'requests' | 'tokens';
  /** Tokens include those held by requests still running. */
  used: number;
  limit: number;
  /** used / limit, 0..1 (more when a running request overshot its estimate). */
  share: number;
  resets_at: string;
}

/**
 * What an alert webhook may be sent (issue 16, item 7). `key.quota_80` / `key.quota_100`: a key used
 * 80 % / 100 % of one of its limits in the current window; `key.expiring`: a key expires within 7
 * days; `upstream.down` / `upstream.up`: an Ollama server left / rejoined the rotation;
 * `database.error` / `database.recovered`: the gateway's own database failed / answers again;
 * `test`: the "send test" action.
 */
export type AlertEvent = 'key.quota_80' | 'key.quota_100' | 'key.expiring' | 'upstream.down' | 'upstream.up' | 'database.error' | 'database.recovered' | 'test';
export const ALERT_EVENTS: readonly AlertEvent[] = ['key.quota_80', 'key.quota_100', 'key.expiring', 'upstream.down', 'upstream.up', 'database.error', 'database.recovered', 'test'];

/** How a webhook's body is written: llmproxy's JSON, a Slack incoming webhook's, a Teams workflow's (Adaptive Card). */
export type AlertFormat = 'json' | 'slack' | 'teams';
export const ALERT_FORMATS: readonly AlertFormat[] = ['json', 'slack', 'teams'];

/** A webhook as the admin API shows it: never its secret, only whether it has one. */
export interface AlertWebhookView {
  id: number;
  name: string;
  url: string;
  format: AlertFormat;
  /** The events it receives (`test` is always sent when asked for, whether listed or not). */
  events: AlertEvent[];
  enabled: boolean;
  has_secret: boolean;
  created_at: string;
  updated_at: string;
}

/** POST /api/alerts/webhooks. The secret (optional) signs each body; it is never answered back. */
export interface CreateAlertWebhookRequest {
  name: string;
  url: string;
  secret?: string | null;
  format?: AlertFormat;
  events: AlertEvent[];
  enabled?: boolean;
}

/** PATCH /api/alerts/webhooks/{id}: absent fields stay; `secret: null` removes the secret. */
export type UpdateAlertWebhookRequest = Partial<CreateAlertWebhookRequest>;

export type AlertDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One event for one webhook, GET /api/alerts/deliveries (newest first). */
export interface AlertDeliveryView {
  id: number;
  webhook_id: number;
  webhook_name: string | null;
  event: AlertEvent;
  status: AlertDeliveryStatus;
  attempts: number;
  /** When the next attempt is due (pending only). */
  next_attempt_at: string | null;
  /** The last failed attempt's error: an HTTP status or a network error, never the receiver's body. */
  last_error: string | null;
  last_status: number | null;
  /** The event's one-line summary. */
  summary: string;
  created_at: string;
  updated_at: string;
}
