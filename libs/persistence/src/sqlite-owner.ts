import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type BetterSqlite3 from 'better-sqlite3';

/** How often the owner renews its lease when its ledger writes nothing (every write batch renews it too). */
export const OWNER_HEARTBEAT_MS = 2_000;
/** A lease not renewed for this long is the lease of a process that is gone (or frozen: it fails closed when it wakes). */
export const OWNER_EXPIRY_MS = 20_000;
/** How often a process waiting for the file looks again. */
const WAIT_POLL_MS = 250;

/** The process that holds the lease, as the row says. */
export interface SqliteOwner {
  ownerId: string;
  pid: number;
  host: string;
  /** Where `pid` means something: host name, PID namespace and boot (see `processScope`). */
  scope: string;
  startedAt: Date;
  heartbeatAt: Date;
}

/** What a process knows of itself when it judges another's lease. */
export interface Judge {
  pid: number;
  scope: string;
  /** Leases held by gateways of this very process (several in one test process). */
  liveOwnerIds: ReadonlySet<string>;
  now: Date;
  /** Whether a process with this pid exists in this scope. */
  isAlive(pid: number): boolean;
}

/**
 * Whether the lease's holder still serves the file. A pid can be checked only where it means the
 * same process: the same host, PID namespace and boot (`scope`). There, a pid that is gone (a
 * `kill -9`, a crash) frees the file at once, and so does this process's own pid when the lease is
 * not one of its live gateways' (a container restarted in place: pid 1 again). Anywhere else, only
 * time tells: a heartbeat older than OWNER_EXPIRY_MS.
 */
export function ownerIsGone(owner: SqliteOwner, judge: Judge): boolean {
  if (judge.liveOwnerIds.has(owner.ownerId)) return false;
  if (owner.scope === judge.scope && (owner.pid === judge.pid || !judge.isAlive(owner.pid))) return true;
  return judge.now.getTime() - owner.heartbeatAt.getTime() > OWNER_EXPIRY_MS;
}

/** Another process serves the file (the start is refused with this message). */
export class SqliteOwnedError extends Error {
  constructor(
    readonly owner: SqliteOwner,
    file: string,
  ) {
    super(`${describeOwner(owner, file)}; one process per SQLite file: stop that process first, or use PostgreSQL (DATABASE_URL=postgres://…) for several`);
    this.name = 'SqliteOwnedError';
  }
}

/** The lease went to another process: this one must not write the file any more (its quota ledger fails closed). */
export class SqliteOwnerLostError extends Error {
  constructor(file: string, owner: SqliteOwner | undefined) {
    super(
      owner
        ? `this process no longer owns ${file}: pid ${owner.pid} on host ${owner.host} took it over at ${owner.startedAt.toISOString()}; restart it once that one has stopped`
        : `this process no longer owns ${file}: its lease was removed; restart it`,
    );
    this.name = 'SqliteOwnerLostError';
  }
}

/** Leases held by gateways of this process, so two of them (tests) never count each other as dead. */
const liveOwnerIds = new Set<string>();

/**
 * The one process that serves a SQLite file. Its quota ledger lives in memory and is written behind
 * (libs/quota/src/sqlite-quota-store.ts), so a second process on the same file would decide
 * admissions from its own copy: N processes, N× every limit.
 *
 * A lease row in the database rather than an OS lock: Node has no `flock`, and the locks SQLite
 * itself can hold for a connection's lifetime (`locking_mode = EXCLUSIVE`) would lock out the key
 * CLI and every reader too. The row names its holder (pid, host, since) for the refusal message, works the same
 * on a volume shared by containers, and is checked where it matters: every write batch of the
 * ledger renews it in the batch's transaction (`renew`), so a process that lost it cannot commit
 * another change and fails closed. The key CLI takes no lease: it only touches keys.
 */
export class SqliteOwnerLease {
  readonly id = randomUUID();
  private readonly startedAt = new Date();
  private readonly pid = process.pid;
  private readonly host = hostname();
  private readonly scope = processScope(this.host);
  private claimed = false;

  constructor(
    private readonly db: BetterSqlite3.Database,
    readonly file: string,
  ) {}

  get held(): boolean {
    return this.claimed;
  }

  /** Whether the table exists (a database not yet migrated to it has no owner to ask). */
  tableExists(): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'llmproxy_owner'").get() !== undefined;
  }

  /**
   * Claims the file, waiting up to `waitMs` for its owner to stop (`onWait` is told once, with a
   * line for the log). Resolves with the owner it took over from, if the lease was left behind by a
   * process that is gone; throws SqliteOwnedError if the owner still serves after the wait.
   */
  async claim(waitMs: number, onWait: (message: string) => void = () => undefined): Promise<{ previous?: SqliteOwner }> {
    const deadline = Date.now() + waitMs;
    let told = false;
    for (;;) {
      const result = this.tryClaim();
      if (result.claimed) return { previous: result.previous };
      if (Date.now() >= deadline) throw new SqliteOwnedError(result.owner, this.file);
      if (!told) {
        told = true;
        onWait(`${describeOwner(result.owner, this.file)}; waiting up to ${Math.round(waitMs / 1000)} s for it to stop (SQLITE_OWNER_WAIT_S)`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(WAIT_POLL_MS, Math.max(0, deadline - Date.now()))));
    }
  }

  /** One attempt, in one IMMEDIATE transaction: no two processes can both see the file free. */
  tryClaim(now = new Date()): { claimed: true; previous?: SqliteOwner } | { claimed: false; owner: SqliteOwner } {
    return this.db
      .transaction((): { claimed: true; previous?: SqliteOwner } | { claimed: false; owner: SqliteOwner } => {
        const owner = this.current();
        if (owner && owner.ownerId !== this.id) {
          const judge: Judge = { pid: this.pid, scope: this.scope, liveOwnerIds, now, isAlive };
          if (!ownerIsGone(owner, judge)) return { claimed: false, owner };
        }
        this.db
          .prepare('INSERT OR REPLACE INTO llmproxy_owner (id, owner_id, pid, host, scope, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?, ?, ?)')
          .run(this.id, this.pid, this.host, this.scope, this.startedAt.toISOString(), now.toISOString());
        this.claimed = true;
        liveOwnerIds.add(this.id);
        return { claimed: true, previous: owner && owner.ownerId !== this.id ? owner : undefined };
      })
      .immediate();
  }

  /** Inside a write transaction: renews the lease, or throws SqliteOwnerLostError (the transaction then rolls back). */
  renew(now = new Date()): void {
    const changed = this.db.prepare('UPDATE llmproxy_owner SET heartbeat_at = ? WHERE id = 1 AND owner_id = ?').run(now.toISOString(), this.id).changes;
    if (changed === 0) {
      this.claimed = false;
      liveOwnerIds.delete(this.id);
      throw new SqliteOwnerLostError(this.file, this.current());
    }
  }

  /** At shutdown, after the last write: the next process may start at once. Never removes another's lease. */
  release(): void {
    liveOwnerIds.delete(this.id);
    if (!this.claimed) return;
    this.claimed = false;
    this.db.prepare('DELETE FROM llmproxy_owner WHERE owner_id = ?').run(this.id);
  }

  private current(): SqliteOwner | undefined {
    const row = this.db.prepare('SELECT owner_id, pid, host, scope, started_at, heartbeat_at FROM llmproxy_owner WHERE id = 1').get() as Record<string, unknown> | undefined;
    if (!row) return undefined;
    return {
      ownerId: String(row.owner_id),
      pid: Number(row.pid),
      host: String(row.host),
      scope: String(row.scope),
      startedAt: new Date(String(row.started_at)),
      heartbeatAt: new Date(String(row.heartbeat_at)),
    };
  }
}

/** "… is served by pid 1234 on host web-1 since 2026-11-26T09:00:00.000Z (last heartbeat 1 s ago)" */
export function describeOwner(owner: SqliteOwner, file: string, now = new Date()): string {
  const ago = Math.max(0, Math.round((now.getTime() - owner.heartbeatAt.getTime()) / 1000));
  return `${file} is served by pid ${owner.pid} on host ${owner.host} since ${owner.startedAt.toISOString()} (last heartbeat ${ago} s ago)`;
}

/**
 * Where a pid names one process: the host name, plus on Linux the PID namespace (two containers
 * each have their own pid 1) and the boot (pids start again after a reboot).
 */
export function processScope(host = hostname()): string {
  const read = (what: () => string) => {
    try {
      return what().trim();
    } catch {
      return '';
    }
  };
  const namespace = read(() => readlinkSync('/proc/self/ns/pid'));
  const boot = read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
  return [host, namespace, boot].filter(Boolean).join(' ');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
