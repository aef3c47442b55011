import { spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How a CLI child process ended and everything it printed. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  cwd: string;
  /** The child's whole environment (nothing of the test process's is passed on unless given here). */
  env: NodeJS.ProcessEnv;
  /** Past this the child is killed with SIGKILL (and the run resolves with that signal). */
  timeoutMs: number;
}

/**
 * Runs a CLI (Claude Code, Codex, a start script) as a child process with stdin closed, collects its
 * stdout and stderr, and resolves when it has exited and its output is closed; rejects only when it
 * cannot be started.
 */
export function runCli(command: string, args: string[], { cwd, env, timeoutMs }: CliRunOptions): Promise<CliRun> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise<CliRun>((done, fail) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

export interface CliTempDirs {
  /** A new empty directory under the system temp folder, removed by removeAll. */
  make(prefix: string): string;
  removeAll(): void;
}

/**
 * Temporary folders for CLI runs (a fresh HOME, cwd, config home each), removed together afterwards.
 * `realpath`: the resolved path (Claude Code resolves its cwd, and its trust entry must match it).
 */
export function cliTempDirs({ realpath = false }: { realpath?: boolean } = {}): CliTempDirs {
  const made: string[] = [];
  return {
    make(prefix) {
      const created = mkdtempSync(join(tmpdir(), prefix));
      const dir = realpath ? realpathSync(created) : created;
      made.push(dir);
      return dir;
    },
    removeAll() {
      for (const dir of made) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh HOME for Claude Code (from `dirs`, so a realpath one) in which onboarding is done and `cwd`
 * is trusted, so a print-mode run asks nothing.
 */
export function claudeCodeHome(dirs: CliTempDirs, cwd: string): string {
  const home = dirs.make('llmproxy-cc-home-');
  writeFileSync(join(home, '.claude.json'), JSON.stringify({ hasCompletedOnboarding: true, projects: { [cwd]: { hasTrustDialogAccepted: true } } }));
  return home;
}

/** What a test's Claude Code run needs to stay quiet and fail fast, whatever else it is given. */
export const CLAUDE_CODE_TEST_ENV = {
  // No update checks, telemetry or error reports.
  DISABLE_AUTOUPDATER: '1',
  DISABLE_TELEMETRY: '1',
  DISABLE_ERROR_REPORTING: '1',
  DISABLE_BUG_COMMAND: '1',
  // A failing gateway shows up at once as the CLI's own error, not as retries until the deadline.
  CLAUDE_CODE_MAX_RETRIES: '0',
  API_TIMEOUT_MS: '30000',
} as const;
