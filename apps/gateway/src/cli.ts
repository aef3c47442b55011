import 'reflect-metadata';
import { parseArgs } from 'node:util';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '@llmproxy/config';
import type { ApiKeysService, ApiKeyView, CreateKeyInput } from '@llmproxy/keys';

/**
 * `node dist/apps/gateway/src/cli.js keys …`: key management on a server without the UI. Same
 * configuration (`.env` + environment) and the same ApiKeysService as the admin API, no Nest app.
 * Exit codes: 0 done, 1 failed (configuration, database, unknown id), 2 bad arguments. The
 * libraries (Nest, TypeORM, drivers) are imported only once the arguments are known to be good,
 * so `--help` and mistakes answer at once.
 */

const USAGE = `Usage: node dist/apps/gateway/src/cli.js keys <command> [options]
       npm run cli -- keys <command> [options]

Commands:
  keys create --name <name> [options]   create a key; prints it once
      --expires <date>                  ISO 8601: 2027-01-01T00:00:00Z, or 2027-01-01 (midnight in APP_TZ)
      --daily-tokens <n>                tokens per day (default: unlimited)
      --monthly-tokens <n>              tokens per month
      --daily-requests <n>              requests per day
      --monthly-requests <n>            requests per month
      --models <a,b,…>                  allowed models (default: all)
      --max-concurrent <n>              concurrent requests (default: unlimited)
      --json                            print the new key and its settings as JSON
  keys list [--json]                    list keys (never their secret)
  keys deactivate <id>                  refuse the key from now on
  keys activate <id>                    accept it again
  keys delete <id>                      delete it for good

Reads the server's configuration (.env in the working directory, then the environment);
ADMIN_PASSWORD is not needed. Run from the server's directory so DATABASE_URL points at its database.
`;

const OPTIONS = {
  name: { type: 'string' },
  expires: { type: 'string' },
  'daily-tokens': { type: 'string' },
  'monthly-tokens': { type: 'string' },
  'daily-requests': { type: 'string' },
  'monthly-requests': { type: 'string' },
  models: { type: 'string' },
  'max-concurrent': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;
type Values = { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

const CREATE_OPTIONS: readonly OptionName[] = [
  'name',
  'expires',
  'daily-tokens',
  'monthly-tokens',
  'daily-requests',
  'monthly-requests',
  'models',
  'max-concurrent',
  'json',
];

type Command =
  | { kind: 'help' }
  | { kind: 'create'; input: Omit<CreateKeyInput, 'expiresAt'>; expires?: string; json: boolean }
  | { kind: 'list'; json: boolean }
  | { kind: 'activate' | 'deactivate' | 'delete'; id: number };

/** A mistake in the command line: one line, then the usage, exit 2. */
class UsageError extends Error {}

/** Turns argv into a command, or throws UsageError. Pure: no configuration, no database. */
function parseCommand(argv: readonly string[]): Command {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    // Node's first sentence says it ("Unknown option '--nmae'"); the rest are hints over several lines.
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message.split(/\.(\s|$)/)[0]!.trim());
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const [group, action, ...rest] = positionals;
  if (group === undefined) throw new UsageError('missing command');
  if (group === 'help') return { kind: 'help' };
  if (group !== 'keys') throw new UsageError(`unknown command '${group}'`);
  if (action === undefined) throw new UsageError('missing keys command (create, list, activate, deactivate or delete)');

  const allowOnly = (allowed: readonly OptionName[]) => {
    const extra = (Object.keys(values) as OptionName[]).find((name) => !allowed.includes(name));
    if (extra) throw new UsageError(`option --${extra} does not apply to 'keys ${action}'`);
  };
  const noMorePositionals = (expected: number) => {
    if (rest.length > expected) throw new UsageError(`unexpected argument '${rest[expected]}'`);
  };

  switch (action) {
    case 'create': {
      allowOnly(CREATE_OPTIONS);
      noMorePositionals(0);
      const name = values.name?.trim();
      if (!name) throw new UsageError('--name is required');
      if (name.length > 100) throw new UsageError('--name must be at most 100 characters');
      if (values.expires !== undefined && !isIsoDate(values.expires)) {
        throw new UsageError(`--expires must be an ISO 8601 date or date-time such as 2027-01-01T00:00:00Z, got '${values.expires}'`);
      }
      return {
        kind: 'create',
        json: values.json ?? false,
        expires: values.expires,
        input: {
          name,
          allowedModels: values.models === undefined ? null : models(values.models),
          maxConcurrent: integer(values, 'max-concurrent', 1, 10_000),
          limits: {
            dailyTokens: integer(values, 'daily-tokens', 0),
            monthlyTokens: integer(values, 'monthly-tokens', 0),
            dailyRequests: integer(values, 'daily-requests', 0),
            monthlyRequests: integer(values, 'monthly-requests', 0),
          },
        },
      };
    }
    case 'list':
      allowOnly(['json']);
      noMorePositionals(0);
      return { kind: 'list', json: values.json ?? false };
    case 'activate':
    case 'deactivate':
    case 'delete': {
      allowOnly([]);
      const [id] = rest;
      if (id === undefined) throw new UsageError(`'keys ${action}' needs the key's id (see 'keys list')`);
      noMorePositionals(1);
      if (!/^[1-9]\d{0,14}$/.test(id)) throw new UsageError(`the id must be a positive integer, got '${id}'`);
      return { kind: action, id: Number(id) };
    }
    default:
      throw new UsageError(`unknown keys command '${action}'`);
  }
}

// A date (midnight in APP_TZ) or a date-time with an explicit offset: never the machine's local zone.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** The regex, plus a real calendar day: `new Date` would roll 2027-02-30 over to March. */
function isIsoDate(text: string): boolean {
  if (!ISO_DATE.test(text)) return false;
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function integer(values: Values, option: OptionName, min: number, max = Number.MAX_SAFE_INTEGER): number | null {
  const text = values[option];
  if (text === undefined) return null;
  if (typeof text !== 'string' || !/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`--${option} must be an integer from ${min} to ${max}, got '${String(text)}'`);
  }
  return Number(text);
}

function models(text: string): string[] {
  const list = text.split(',').map((model) => model.trim());
  if (list.some((model) => model === '')) throw new UsageError(`--models must be a comma-separated list of model names, got '${text}'`);
  return [...new Set(list)];
}

async function expiryDate(text: string, timeZone: string): Promise<Date> {
  const date = text.length === 10 ? (await import('date-fns-tz')).fromZonedTime(`${text}T00:00:00`, timeZone) : new Date(text);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--expires is not a valid date: '${text}'`);
  if (date.getTime() <= Date.now()) throw new UsageError(`--expires must be in the future, got '${text}'`);
  return date;
}

async function run(command: Exclude<Command, { kind: 'help' }>, keys: ApiKeysService, config: AppConfig): Promise<void> {
  switch (command.kind) {
    case 'create': {
      const expiresAt = command.expires === undefined ? null : await expiryDate(command.expires, config.timeZone);
      const { key, apiKey } = await keys.create({ ...command.input, expiresAt });
      if (command.json) {
        out(JSON.stringify({ ...apiKey, key }, null, 2));
      } else {
        // The key alone on stdout, so `KEY=$(… keys create …)` captures exactly it; the rest is for the eye.
        err(`Created API key ${apiKey.id} '${apiKey.name}' (${limitsOf(apiKey)}).`);
        out(key);
      }
      err('This key is shown only once: store it now. The database keeps only its hash.');
      return;
    }
    case 'list': {
      const list = await keys.list();
      out(command.json ? JSON.stringify(list, null, 2) : table(list));
      return;
    }
    case 'activate':
    case 'deactivate': {
      const apiKey = await keys.setActive(command.id, command.kind === 'activate');
      out(`API key ${apiKey.id} '${apiKey.name}' is now ${apiKey.is_active ? 'active' : 'inactive'}.`);
      return;
    }
    case 'delete': {
      const apiKey = await keys.get(command.id);
      await keys.delete(command.id);
      out(`API key ${apiKey.id} '${apiKey.name}' deleted.`);
      return;
    }
  }
}

function table(keys: ApiKeyView[]): string {
  if (keys.length === 0) return "No API keys yet. Create one with 'keys create --name <name>'.";
  const header = ['ID', 'NAME', 'PREFIX', 'ACTIVE', 'EXPIRES', 'MODELS', 'LIMITS'];
  const rows = keys.map((key) => [
    String(key.id),
    key.name,
    `${key.key_prefix}…`,
    key.is_active ? 'yes' : 'no',
    key.expires_at === null ? 'never' : `${key.expires_at}${Date.parse(key.expires_at) <= Date.now() ? ' (expired)' : ''}`,
    key.allowed_models === null ? 'all' : key.allowed_models.join(','),
    limitsOf(key),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

function limitsOf(key: ApiKeyView): string {
  const parts = [
    key.daily_token_limit !== null && `${key.daily_token_limit} tokens/day`,
    key.monthly_token_limit !== null && `${key.monthly_token_limit} tokens/month`,
    key.daily_request_limit !== null && `${key.daily_request_limit} requests/day`,
    key.monthly_request_limit !== null && `${key.monthly_request_limit} requests/month`,
    key.max_concurrent !== null && `${key.max_concurrent} concurrent`,
  ].filter((part): part is string => typeof part === 'string');
  return parts.length > 0 ? parts.join(', ') : 'unlimited';
}

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

function err(text: string): void {
  process.stderr.write(`${text}\n`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function usageError(error: UsageError): number {
  err(`llmproxy: ${error.message}`);
  err('');
  err(USAGE.trimEnd());
  return 2;
}

async function main(argv: readonly string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageError(error);
  }
  if (command.kind === 'help') {
    out(USAGE.trimEnd());
    return 0;
  }

  const { ConfigError, loadConfig } = await import('@llmproxy/config');
  let config: AppConfig;
  try {
    config = loadConfig(undefined, undefined, { requireAdminPassword: false });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    err(`llmproxy: invalid configuration: ${error.message}`);
    return 1;
  }

  const [{ openDatabase }, { ApiKeysService }, { ConflictException, NotFoundException }] = await Promise.all([
    import('@llmproxy/persistence'),
    import('@llmproxy/keys'),
    import('@nestjs/common'),
  ]);
  let dataSource: DataSource;
  try {
    dataSource = await openDatabase(config.database);
  } catch (error) {
    err(`llmproxy: could not open the database (${config.database.type}): ${messageOf(error)}`);
    return 1;
  }
  try {
    await run(command, new ApiKeysService(dataSource), config);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) return usageError(error);
    err(`llmproxy: ${error instanceof NotFoundException || error instanceof ConflictException ? error.message : `failed: ${messageOf(error)}`}`);
    return 1;
  } finally {
    await dataSource.destroy().catch(() => undefined);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  err(`llmproxy: unexpected error: ${messageOf(error)}`);
  process.exitCode = 1;
}
// Output is flushed by now; a driver that keeps a handle open must not keep the command from returning.
setTimeout(() => process.exit(), 2_000).unref();
