import type { QuotaLimits } from '@llmproxy/keys';
import { decideAdmission, decideWithBound, type Admission, type WindowCounters } from './admission.js';
import type { CurrentWindows } from './windows.js';

export interface ReserveInput {
  keyId: number;
  limits: QuotaLimits;
  windows: CurrentWindows;
  /**
   * The prompt estimate, or a bound of it with a way to compute it: the store decides with the
   * bound when `decideWithBound` allows it and calls `exact()` only when it does not.
   */
  promptEstimate: number | PromptTokens;
  requestedMaxTokens: number | null;
  generates: boolean;
  /** Requests of this key in flight at once (its unsettled reservations); null = no limit. */
  maxConcurrent: number | null;
  now: Date;
  /**
   * A reservation not settled by then (its process died) is released by the sweep: `now` + `ttlMs`
   * by this process's clock. A store several processes share counts `ttlMs` from the database's
   * clock instead (PostgreSQL): the processes' clocks differ, the database's is one.
   */
  expiresAt: Date;
  ttlMs: number;
}

/** A prompt's cheap upper bound and its (dearer) estimate, computed on demand. */
export interface PromptTokens {
  readonly bound: number;
  exact(): number;
}

export interface Reservation {
  id: string;
  keyId: number;
  dayKey: string;
  monthKey: string;
  tokens: number;
  completionCap: number | null;
  /** Counters of both windows right after this reservation (for the rate-limit headers). */
  day: WindowCounters;
  month: WindowCounters;
}

export type ReserveResult =
  | { admitted: true; reservation: Reservation }
  | { admitted: false; refusal: Extract<Admission, { admitted: false }> };

export interface Settlement {
  /** Tokens charged: Ollama's prompt_eval_count + eval_count, or estimates. */
  promptTokens: number;
  completionTokens: number;
  /** false when any count was estimated. */
  exact: boolean;
  model: string;
  /** Upstream error, unreachable, timeout or client abort. */
  failed: boolean;
  /** The hour of the usage rollup this request counts in. */
  bucketStart: Date;
  /**
   * The upstream (Ollama server, by its admin-given name) that served the request; null or absent
   * when none did (overloaded, or failed before any upstream answered). Counted per upstream in
   * `usage_upstream_rollup`, under '' for none.
   */
  upstream?: string | null;
}

/** How `usage_upstream_rollup` names "no upstream served it" (upstream names are never empty). */
export const NO_UPSTREAM = '';
/** usage_upstream_rollup.upstream is varchar(100); upstream names have at most 64 characters. */
const UPSTREAM_COLUMN_LENGTH = 100;

/** A settlement's upstream as `usage_upstream_rollup` stores it. */
export function upstreamColumn(settlement: Settlement): string {
  return (settlement.upstream ?? NO_UPSTREAM).slice(0, UPSTREAM_COLUMN_LENGTH);
}

export interface KeyCounters {
  day: WindowCounters;
  month: WindowCounters;
}

/**
 * Where quota counters live: the database, changed atomically so the invariants hold across both
 * listeners and every replica. One implementation per database (SQLite serializes in one
 * synchronous transaction; PostgreSQL locks the key's two counter rows).
 */
export abstract class QuotaStore {
  /** Admits and reserves, or refuses, atomically. */
  abstract reserve(input: ReserveInput): Promise<ReserveResult>;
  /** Charges the actual tokens and releases the reservation; false if it was settled (or swept) already. */
  abstract settle(reservation: Reservation, settlement: Settlement): Promise<boolean>;
  /**
   * Pushes the expiry of reservations still in flight to `expiresAt` (= now + `ttlMs`); a store
   * shared by several processes, to the database's now + `ttlMs` (see `ReserveInput.expiresAt`).
   */
  abstract extend(ids: string[], expiresAt: Date, ttlMs: number): Promise<void>;
  /**
   * Releases reservations whose process died (expired by `now`); returns how many. A store shared
   * by several processes compares with the database's clock and ignores `now`: a process whose
   * clock runs ahead would release the others' live reservations, uncharged.
   */
  abstract releaseExpired(now: Date): Promise<number>;
  /** Counters of every key (or one) in the given windows. */
  abstract counters(windows: CurrentWindows, keyId?: number): Promise<Map<number, KeyCounters>>;
  /** Writes whatever the store still holds back, before the database is closed. */
  async close(): Promise<void> {}
  /** Why the store cannot write now, while it cannot (it refuses admissions meanwhile); readiness reports it. */
  get writeFailure(): unknown {
    return undefined;
  }
}

export const EMPTY_COUNTERS: WindowCounters = Object.freeze({ requests: 0, tokens: 0, reservedTokens: 0 });

export function rowToCounters(row: Record<string, unknown> | undefined): WindowCounters {
  if (!row) return EMPTY_COUNTERS;
  return { requests: Number(row.requests), tokens: Number(row.tokens), reservedTokens: Number(row.reserved_tokens) };
}

/**
 * The admission decision of a store that read `day`, `month` and `inFlight` under its lock: with the
 * estimate, or with the prompt's bound when that cannot change the decision (`decideWithBound`),
 * computing the estimate only otherwise.
 */
export function decideReservation(input: ReserveInput, day: WindowCounters, month: WindowCounters, inFlight: number): Admission {
  const { limits, requestedMaxTokens, generates, maxConcurrent, promptEstimate } = input;
  const base = { limits, day, month, requestedMaxTokens, generates, maxConcurrent, inFlight };
  if (typeof promptEstimate === 'number') return decideAdmission({ ...base, promptEstimate });
  const bounded = decideWithBound({ ...base, promptEstimate: promptEstimate.bound });
  return bounded !== 'estimate' ? bounded : decideAdmission({ ...base, promptEstimate: promptEstimate.exact() });
}
