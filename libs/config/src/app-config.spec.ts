import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseDotenv } from 'dotenv';
import { ConfigError, loadConfig, parseDatabaseUrl, type AppConfig } from './app-config.js';
import { ENV_VARIABLES } from './env.schema.js';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PASSWORD = { ADMIN_PASSWORD: 'correct horse battery staple' };

const made: string[] = [];
/** A fresh working directory, with a `.env` holding `dotenv` when given. */
function cwd(dotenv?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmproxy-config-'));
  made.push(dir);
  if (dotenv !== undefined) writeFileSync(join(dir, '.env'), dotenv);
  return dir;
}

afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the configuration loaded');
}

describe('loadConfig', () => {
  it('has exactly the defaults of DESIGN.md §7 when only ADMIN_PASSWORD is set', () => {
    const dir = cwd();
    expect(loadConfig({ ...PASSWORD }, dir)).toEqual<AppConfig>({
      adminPassword: PASSWORD.ADMIN_PASSWORD,
      proxy: { host: '0.0.0.0', port: 8000 },
      admin: { host: '0.0.0.0', port: 8001 },
      adminSessionHours: 12,
      database: { type: 'sqlite', path: join(dir, 'data', 'llmproxy.db'), url: 'sqlite:///./data/llmproxy.db' },
      ollamaUrl: 'http://localhost:11434',
      ollamaUrls: [],
      upstreamMaxParallel: 4,
      queueMax: 500,
      queueTimeoutMs: 120_000,
      upstreamPollMs: 5_000,
      timeZone: 'Europe/Berlin',
      logFile: join(dir, 'logs', 'usage.log'),
      logLevel: 'info',
      logRetentionDays: 30,
      allowedOrigins: ['http://localhost:4200'],
      anthropicDefaultModel: undefined,
      bodyLimitBytes: 20 * 1024 * 1024,
      upstreamTimeoutMs: 300_000,
      upstreamIdleTimeoutMs: 600_000,
      clientStallTimeoutMs: 60_000,
      metricsToken: undefined,
      shutdownGraceMs: 30_000,
      alertCheckMs: 30_000,
      alertRetryBaseMs: 60_000,
      sqliteOwnerWaitMs: 60_000,
      trustProxy: false,
    });
  });

  it('reads OLLAMA_URLS as a list of servers and refuses anything but http(s) URLs in it', () => {
    expect(loadConfig({ ...PASSWORD, OLLAMA_URLS: 'http://gpu1:11434/, http://gpu2:11434' }, cwd()).ollamaUrls).toEqual(['http://gpu1:11434', 'http://gpu2:11434']);
    expect(() => loadConfig({ ...PASSWORD, OLLAMA_URLS: 'http://gpu1:11434,ftp://gpu2' }, cwd())).toThrow(/^OLLAMA_URLS must be comma-separated http\(s\) URLs/);
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadConfig({ ...PASSWORD }, cwd()))).toBe(true);
  });

  it('reads every variable from the environment', () => {
    const config = loadConfig(
      {
        ...PASSWORD,
        PROXY_HOST: '127.0.0.1',
        PROXY_PORT: '9000',
        ADMIN_HOST: '::1',
        ADMIN_PORT: '0',
        ADMIN_SESSION_HOURS: '24',
        DATABASE_URL: 'postgres://user:pass@db.internal:5432/llmproxy',
        OLLAMA_URL: 'https://ollama.internal:11434/',
        APP_TZ: 'America/New_York',
        LOG_FILE: '/var/log/llmproxy/usage.log',
        ALLOWED_ORIGINS: 'http://localhost:4200, https://admin.example.com ,',
        ANTHROPIC_DEFAULT_MODEL: 'qwen3:4b',
        LOG_LEVEL: 'debug',
        BODY_LIMIT_MB: '64',
        UPSTREAM_TIMEOUT_S: ' 30 ',
        UPSTREAM_IDLE_TIMEOUT_S: '45',
        CLIENT_STALL_TIMEOUT_S: '15',
        LOG_RETENTION_DAYS: '7',
        METRICS_TOKEN: 'scrape-token-0123456789',
        SHUTDOWN_GRACE_S: '5',
        SQLITE_OWNER_WAIT_S: '0',
        TRUST_PROXY: 'loopback, 10.0.0.0/8',
      },
      cwd(),
    );
    expect(config).toMatchObject({
      proxy: { host: '127.0.0.1', port: 9000 },
      admin: { host: '::1', port: 0 },
      adminSessionHours: 24,
      database: { type: 'postgres', url: 'postgres://user:pass@db.internal:5432/llmproxy' },
      ollamaUrl: 'https://ollama.internal:11434',
      timeZone: 'America/New_York',
      logFile: '/var/log/llmproxy/usage.log',
      allowedOrigins: ['http://localhost:4200', 'https://admin.example.com'],
      anthropicDefaultModel: 'qwen3:4b',
      logLevel: 'debug',
      bodyLimitBytes: 64 * 1024 * 1024,
      upstreamTimeoutMs: 30_000,
      upstreamIdleTimeoutMs: 45_000,
      clientStallTimeoutMs: 15_000,
      logRetentionDays: 7,
      metricsToken: 'scrape-token-0123456789',
      shutdownGraceMs: 5_000,
      sqliteOwnerWaitMs: 0,
      trustProxy: ['loopback', '10.0.0.0/8'],
    });
  });

  it('reads .env from the working directory, and the environment overrides it', () => {
    const dir = cwd(['# comment', 'ADMIN_PASSWORD="from the .env file"', 'PROXY_PORT=9100', "APP_TZ='Asia/Tokyo'", 'ADMIN_PORT=9101', ''].join('\n'));
    const fromFile = loadConfig({}, dir);
    expect(fromFile).toMatchObject({ adminPassword: 'from the .env file', proxy: { port: 9100 }, admin: { port: 9101 }, timeZone: 'Asia/Tokyo' });

    const overridden = loadConfig({ ADMIN_PASSWORD: 'from the environment', PROXY_PORT: '9200' }, dir);
    expect(overridden).toMatchObject({ adminPassword: 'from the environment', proxy: { port: 9200 }, admin: { port: 9101 }, timeZone: 'Asia/Tokyo' });
  });

  it('reads no .env from anywhere but the working directory', () => {
    const parent = cwd('PROXY_PORT=9300\n');
    const child = mkdtempSync(join(parent, 'child-'));
    expect(loadConfig({ ...PASSWORD }, child).proxy.port).toBe(8000);
  });

  it('treats empty variables as unset: the .env value, else the default, applies', () => {
    const dir = cwd('PROXY_PORT=9400\nADMIN_PORT=\nANTHROPIC_DEFAULT_MODEL=\n');
    const config = loadConfig({ ...PASSWORD, PROXY_PORT: '', ADMIN_PORT: '', APP_TZ: '', OLLAMA_URL: '', DATABASE_URL: '' }, dir);
    expect(config.proxy.port).toBe(9400);
    expect(config.admin.port).toBe(8001);
    expect(config.timeZone).toBe('Europe/Berlin');
    expect(config.ollamaUrl).toBe('http://localhost:11434');
    expect(config.database).toMatchObject({ type: 'sqlite', path: join(dir, 'data', 'llmproxy.db') });
    expect(config.anthropicDefaultModel).toBeUndefined();
  });

  it('reads DEFAULT_MODEL, and ANTHROPIC_DEFAULT_MODEL (its earlier name) only when DEFAULT_MODEL is unset', () => {
    expect(loadConfig({ ...PASSWORD, DEFAULT_MODEL: 'llama3.2', ANTHROPIC_DEFAULT_MODEL: 'qwen3:4b' }, cwd()).anthropicDefaultModel).toBe('llama3.2');
    expect(loadConfig({ ...PASSWORD, ANTHROPIC_DEFAULT_MODEL: 'qwen3:4b' }, cwd()).anthropicDefaultModel).toBe('qwen3:4b');
    expect(loadConfig({ ...PASSWORD, DEFAULT_MODEL: '', ANTHROPIC_DEFAULT_MODEL: '' }, cwd()).anthropicDefaultModel).toBeUndefined();
  });

  it('ignores variables it does not know', () => {
    expect(() => loadConfig({ ...PASSWORD, PORT: 'not a port', NODE_ENV: 'production' }, cwd())).not.toThrow();
  });

  describe('ADMIN_PASSWORD', () => {
    it.each([
      ['unset', {}],
      ['empty', { ADMIN_PASSWORD: '' }],
    ])('is required by default (%s)', (_case, env) => {
      const error = configError(() => loadConfig(env, cwd()));
      expect(error.variable).toBe('ADMIN_PASSWORD');
      expect(error.message).toMatch(/^ADMIN_PASSWORD is required/);
    });

    it('an empty ADMIN_PASSWORD in .env is missing too', () => {
      expect(configError(() => loadConfig({}, cwd('ADMIN_PASSWORD=\n'))).variable).toBe('ADMIN_PASSWORD');
    });

    it('is optional with requireAdminPassword: false (the key CLI), which still validates the rest', () => {
      const dir = cwd();
      expect(loadConfig({}, dir, { requireAdminPassword: false })).toMatchObject({ adminPassword: '', proxy: { port: 8000 } });
      expect(loadConfig({ ...PASSWORD }, dir, { requireAdminPassword: false }).adminPassword).toBe(PASSWORD.ADMIN_PASSWORD);
      expect(configError(() => loadConfig({ PROXY_PORT: 'x' }, dir, { requireAdminPassword: false })).variable).toBe('PROXY_PORT');
    });

    it('stays required when the option is given as true', () => {
      expect(configError(() => loadConfig({}, cwd(), { requireAdminPassword: true })).variable).toBe('ADMIN_PASSWORD');
    });

    it.each(['change-me', 'hunter2', '12345678901', '密码密码密码密码密码密'])('shorter than 12 characters (%s) stops the start with one line that does not repeat it', (password) => {
      const error = configError(() => loadConfig({ ADMIN_PASSWORD: password }, cwd()));
      expect(error.variable).toBe('ADMIN_PASSWORD');
      expect(error.message).toBe('ADMIN_PASSWORD must be at least 12 characters (only `npm run dev` accepts a shorter one)');
      expect(error.message).not.toContain(password);
    });

    it('of 12 characters is enough (counted as characters, not bytes)', () => {
      expect(loadConfig({ ADMIN_PASSWORD: '123456789012' }, cwd()).adminPassword).toBe('123456789012');
      expect(loadConfig({ ADMIN_PASSWORD: '密码密码密码密码密码密码' }, cwd()).adminPassword).toHaveLength(12);
    });

    it('a short one from .env is refused too', () => {
      expect(configError(() => loadConfig({}, cwd('ADMIN_PASSWORD=change-me\n'))).variable).toBe('ADMIN_PASSWORD');
    });

    it('LLMPROXY_DEV=1 in the environment (npm run dev) accepts a short one; in .env it does not', () => {
      expect(loadConfig({ ADMIN_PASSWORD: 'dev', LLMPROXY_DEV: '1' }, cwd()).adminPassword).toBe('dev');
      expect(configError(() => loadConfig({ ADMIN_PASSWORD: 'dev', LLMPROXY_DEV: 'true' }, cwd())).variable).toBe('ADMIN_PASSWORD');
      expect(configError(() => loadConfig({ ADMIN_PASSWORD: 'dev' }, cwd('LLMPROXY_DEV=1\n'))).variable).toBe('ADMIN_PASSWORD');
      // Dev mode waives the length, not the password.
      expect(configError(() => loadConfig({ LLMPROXY_DEV: '1' }, cwd())).message).toMatch(/^ADMIN_PASSWORD is required/);
    });

    it('the key CLI does not check the length of one it does not need', () => {
      expect(loadConfig({ ADMIN_PASSWORD: 'short' }, cwd(), { requireAdminPassword: false }).adminPassword).toBe('short');
    });
  });

  describe('invalid values stop with a ConfigError naming the variable', () => {
    it.each<[string, string]>([
      ['PROXY_PORT', 'abc'],
      ['PROXY_PORT', '65536'],
      ['PROXY_PORT', '-1'],
      ['PROXY_PORT', '80.5'],
      ['PROXY_PORT', '8000x'],
      ['ADMIN_PORT', '99999'],
      ['ADMIN_PORT', 'eighty'],
      ['ADMIN_SESSION_HOURS', '0'],
      ['ADMIN_SESSION_HOURS', '1.5'],
      ['OLLAMA_URL', 'localhost:11434'],
      ['OLLAMA_URL', 'ftp://localhost:11434'],
      ['OLLAMA_URL', 'not a url'],
      ['APP_TZ', 'Mars/Olympus_Mons'],
      ['APP_TZ', 'Berlin'],
      ['DATABASE_URL', 'mysql://user@host/db'],
      ['DATABASE_URL', './data/llmproxy.db'],
      ['DATABASE_URL', 'sqlite:///'],
      ['DATABASE_URL', 'postgres://'],
      ['LOG_LEVEL', 'verbose'],
      ['BODY_LIMIT_MB', '0'],
      ['BODY_LIMIT_MB', '20MB'],
      ['BODY_LIMIT_MB', '1025'],
      ['UPSTREAM_TIMEOUT_S', '0'],
      ['UPSTREAM_TIMEOUT_S', '1.5'],
      ['UPSTREAM_IDLE_TIMEOUT_S', '-5'],
      ['UPSTREAM_IDLE_TIMEOUT_S', 'ten'],
      ['LOG_RETENTION_DAYS', '0'],
      ['LOG_RETENTION_DAYS', '3651'],
      ['METRICS_TOKEN', 'short'],
      ['METRICS_TOKEN', 'has a space in it, long enough'],
      ['SHUTDOWN_GRACE_S', '-1'],
      ['SHUTDOWN_GRACE_S', '3601'],
      ['SHUTDOWN_GRACE_S', 'soon'],
      ['SQLITE_OWNER_WAIT_S', '3601'],
      ['TRUST_PROXY', 'maybe'],
      ['TRUST_PROXY', '10.0.0.0/33'],
      ['TRUST_PROXY', '1.2.3'],
    ])('%s=%s', (variable, value) => {
      const error = configError(() => loadConfig({ ...PASSWORD, [variable]: value }, cwd()));
      expect(error.variable).toBe(variable);
      expect(error.message.startsWith(`${variable} `)).toBe(true);
      expect(error.message).not.toContain('\n');
    });

    it('names the variable when the bad value comes from .env', () => {
      const error = configError(() => loadConfig({ ...PASSWORD }, cwd('ADMIN_PORT=http\n')));
      expect(error.variable).toBe('ADMIN_PORT');
      expect(error.message).toBe('ADMIN_PORT must be a port number');
    });

    it('explains what a valid value looks like', () => {
      expect(configError(() => loadConfig({ ...PASSWORD, APP_TZ: 'CEST' }, cwd())).message).toBe(
        'APP_TZ must be an IANA time zone such as Europe/Berlin',
      );
      expect(configError(() => loadConfig({ ...PASSWORD, DATABASE_URL: 'mysql://x' }, cwd())).message).toBe(
        'DATABASE_URL must be sqlite:///path/to/file.db or postgres://user:pass@host:5432/db',
      );
    });

    it('accepts the edges of the valid ranges', () => {
      const config = loadConfig({ ...PASSWORD, PROXY_PORT: '0', ADMIN_PORT: '65535', BODY_LIMIT_MB: '1', LOG_RETENTION_DAYS: '3650' }, cwd());
      expect(config).toMatchObject({ proxy: { port: 0 }, admin: { port: 65535 }, bodyLimitBytes: 1024 * 1024, logRetentionDays: 3650 });
    });
  });

  describe('DATABASE_URL', () => {
    it('resolves the seed’s sqlite:///./test.db against the working directory', () => {
      const dir = cwd();
      expect(loadConfig({ ...PASSWORD, DATABASE_URL: 'sqlite:///./test.db' }, dir).database).toEqual({
        type: 'sqlite',
        path: join(dir, 'test.db'),
        url: 'sqlite:///./test.db',
      });
    });

    it('resolves sqlite:///data/x.db (no ./) against the working directory too', () => {
      const dir = cwd();
      expect(loadConfig({ ...PASSWORD, DATABASE_URL: 'sqlite:///data/x.db' }, dir).database).toMatchObject({ path: join(dir, 'data', 'x.db') });
    });

    it('takes sqlite:////abs/path.db as an absolute path', () => {
      expect(loadConfig({ ...PASSWORD, DATABASE_URL: 'sqlite:////abs/path.db' }, cwd()).database).toEqual({
        type: 'sqlite',
        path: '/abs/path.db',
        url: 'sqlite:////abs/path.db',
      });
    });

    it.each(['postgres://user:pass@host:5432/db', 'postgresql://user:p%40ss@127.0.0.1:5432/test?sslmode=disable'])('keeps %s as it is', (url) => {
      expect(loadConfig({ ...PASSWORD, DATABASE_URL: url }, cwd()).database).toEqual({ type: 'postgres', url });
    });

    it('accepts an in-memory SQLite database', () => {
      expect(parseDatabaseUrl('sqlite::memory:')).toEqual({ type: 'sqlite', path: ':memory:', url: 'sqlite::memory:' });
    });
  });

  it.each<[string, boolean | number | string[]]>([
    ['false', false],
    ['off', false],
    ['0', false],
    ['true', true],
    ['2', 2],
    ['loopback', ['loopback']],
    ['127.0.0.1, ::1, 192.168.0.0/16', ['127.0.0.1', '::1', '192.168.0.0/16']],
  ])('TRUST_PROXY=%s is trust proxy %j', (value, expected) => {
    expect(loadConfig({ ...PASSWORD, TRUST_PROXY: value }, cwd()).trustProxy).toEqual(expected);
  });

  it('resolves a relative LOG_FILE against the working directory', () => {
    const dir = cwd();
    expect(loadConfig({ ...PASSWORD, LOG_FILE: './var/usage.log' }, dir).logFile).toBe(join(dir, 'var', 'usage.log'));
  });
});

describe('single sign-on (OIDC_*)', () => {
  const OIDC = { OIDC_ISSUER: 'https://login.example.com/realms/main', OIDC_CLIENT_ID: 'llmproxy' };

  it('is off unless OIDC_ISSUER is set', () => {
    expect(loadConfig({ ...PASSWORD }, cwd()).oidc).toBeUndefined();
  });

  it('reads the provider, the claim and its values, with defaults', () => {
    expect(loadConfig({ ...PASSWORD, ...OIDC, OIDC_ADMIN_VALUES: ' llm-admins , ops ', OIDC_SCOPES: 'profile groups' }, cwd()).oidc).toEqual({
      issuer: OIDC.OIDC_ISSUER,
      clientId: 'llmproxy',
      scopes: ['openid', 'profile', 'groups'],
      roleClaim: 'groups',
      adminValues: ['llm-admins', 'ops'],
      viewerValues: [],
      providerName: 'single sign-on',
      only: false,
    });
    const full = loadConfig(
      { ...PASSWORD, ...OIDC, OIDC_CLIENT_SECRET: 's3cret', OIDC_REDIRECT_URL: 'https://llm.example.com/api/oidc/callback', OIDC_VIEWER_VALUES: 'staff', OIDC_ROLE_CLAIM: 'realm_access.roles', OIDC_PROVIDER_NAME: 'Keycloak', OIDC_ONLY: 'true' },
      cwd(),
    ).oidc;
    expect(full).toMatchObject({ clientSecret: 's3cret', redirectUrl: 'https://llm.example.com/api/oidc/callback', viewerValues: ['staff'], roleClaim: 'realm_access.roles', providerName: 'Keycloak', only: true });
  });

  it.each([
    [{ ...OIDC, OIDC_ADMIN_VALUES: 'a', OIDC_CLIENT_ID: '' }, 'OIDC_CLIENT_ID'],
    [{ ...OIDC }, 'OIDC_ADMIN_VALUES'],
    [{ OIDC_ONLY: 'true' }, 'OIDC_ONLY'],
    [{ ...OIDC, OIDC_ADMIN_VALUES: 'a', OIDC_ONLY: 'yes' }, 'OIDC_ONLY'],
    [{ ...OIDC, OIDC_ADMIN_VALUES: 'a', OIDC_ISSUER: 'login.example.com' }, 'OIDC_ISSUER'],
  ])('refuses to start on %j (%s)', (env, variable) => {
    expect(configError(() => loadConfig({ ...PASSWORD, ...env }, cwd())).variable).toBe(variable);
  });
});

describe('.env.example', () => {
  const examplePath = join(REPO_ROOT, '.env.example');

  it('lists exactly ENV_VARIABLES, in order', () => {
    const names = readFileSync(examplePath, 'utf8')
      .split('\n')
      .map((line) => /^\s*([A-Z][A-Z0-9_]*)\s*=/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined);
    expect(names).toEqual([...ENV_VARIABLES]);
  });

  it('shows the defaults: copied to .env with a password, it changes nothing', () => {
    expect(Object.keys(parseDotenv(readFileSync(examplePath)))).toEqual([...ENV_VARIABLES]);
    const withExample = cwd();
    copyFileSync(examplePath, join(withExample, '.env'));
    const bare = cwd();
    const normalise = (config: AppConfig, dir: string) => JSON.parse(JSON.stringify(config).replaceAll(dir, '<cwd>')) as unknown;
    expect(normalise(loadConfig({ ...PASSWORD }, withExample), withExample)).toEqual(normalise(loadConfig({ ...PASSWORD }, bare), bare));
  });
});
