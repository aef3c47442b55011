/**
 * Quota time windows (calendar day, calendar month) in an IANA time zone.
 *
 * A day starts at local midnight, a month on the 1st at local midnight; `end` is the start of the
 * next window (exclusive). Days at DST changes therefore last 23 or 25 hours (Europe/Berlin:
 * 2026-03-29 has 23 hours, 2026-10-25 has 25).
 *
 * Everything here is computed on epoch milliseconds and never goes through the machine's local
 * time zone (`process.env.TZ`). The one time-zone primitive is {@link offsetAt}: the zone's UTC
 * offset at an exact instant, read from a cached `Intl.DateTimeFormat` — the same technique
 * date-fns-tz uses internally. We deliberately do not call date-fns-tz's `toZonedTime` /
 * `formatInTimeZone` / `fromZonedTime` / `getTimezoneOffset` on the request path, because in
 * date-fns-tz 3.2.0:
 *  - `toZonedTime` / `formatInTimeZone` build a Date in the machine's zone, so a wall-clock time
 *    that does not exist there is shifted (with TZ=America/New_York,
 *    `formatInTimeZone(new Date('2026-03-08T01:30:00Z'), 'Europe/Berlin', …)` yields 03:30
 *    instead of 02:30);
 *  - `getTimezoneOffset(tz, date)` interprets the date as a wall-clock time, not an instant
 *    (it returns +1h for 2026-03-29T01:30:00Z in Berlin, where the offset is +2h);
 *  - `fromZonedTime` maps a non-existent local midnight (America/Santiago 2026-09-06) to an
 *    instant of the previous local day.
 * The spec cross-checks our day starts against `fromZonedTime` for ordinary zones.
 *
 * Pure module: no Nest, no I/O. Results for the current day are cached per time zone, so the
 * common call of {@link currentWindows} is one Map lookup and two number comparisons.
 */

export type WindowKind = 'day' | 'month';

/**
 * One quota window. Instances returned by this module are frozen and shared between callers
 * (cache); treat them — including the `Date`s — as read-only.
 */
export interface QuotaWindow {
  readonly kind: WindowKind;
  /** 'YYYY-MM-DD' for a day, 'YYYY-MM' for a month, in the window's time zone. */
  readonly key: string;
  /** First instant of the window (inclusive). */
  readonly start: Date;
  /** First instant of the next window (exclusive). */
  readonly end: Date;
}

export interface CurrentWindows {
  readonly day: QuotaWindow;
  readonly month: QuotaWindow;
}

const SECOND_MS = 1_000;
const DAY_MS = 86_400_000;
/** Cap for the per-zone caches; a deployment uses one zone, tests a handful. */
const MAX_CACHED_ZONES = 64;

// ---------------------------------------------------------------------------------------------
// Time-zone primitive
// ---------------------------------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let dtf = formatters.get(timeZone);
  if (dtf === undefined) {
    if (typeof timeZone !== 'string' || timeZone === '') {
      // Intl would silently fall back to the machine's zone for `undefined`.
      throw new RangeError(`Invalid time zone: ${JSON.stringify(timeZone)}`);
    }
    // Throws RangeError for unknown zones.
    dtf = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    if (formatters.size >= MAX_CACHED_ZONES) formatters.clear();
    formatters.set(timeZone, dtf);
  }
  return dtf;
}

/**
 * UTC offset of `timeZone` at instant `t` (epoch ms), in ms (east positive: Berlin in winter
 * → 3_600_000). Exact for the instant, independent of the machine's time zone.
 */
export function offsetAt(t: number, timeZone: string): number {
  // `format` is ~4x faster than `formatToParts` and allocates one string. en-US with h23 and a
  // short era prints "3/29/2026 AD, 03:30:00": six digit runs (month, day, year, hour, minute,
  // second); "BC" marks years before 1. Any other characters (e.g. bidi marks) are skipped.
  const s = formatterFor(timeZone).format(t);
  let month = 0;
  let day = 0;
  let year = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let field = 0;
  let value = 0;
  let inDigits = false;
  let bc = false;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0;
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      inDigits = true;
      continue;
    }
    if (c === 66 /* B */) bc = true;
    if (!inDigits) continue;
    switch (field++) {
      case 0:
        month = value;
        break;
      case 1:
        day = value;
        break;
      case 2:
        year = value;
        break;
      case 3:
        hour = value % 24; // some ICU versions print midnight as 24
        break;
      case 4:
        minute = value;
        break;
      default:
        second = value;
        break;
    }
    value = 0;
    inDigits = false;
  }
  if (field !== 6) throw new Error(`Unexpected date format from Intl: ${JSON.stringify(s)}`);
  if (bc) year = 1 - year;
  const wall = daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * SECOND_MS;
  // Intl has second resolution: compare with the instant truncated to the second.
  return wall - Math.floor(t / SECOND_MS) * SECOND_MS;
}

/**
 * First instant whose local wall-clock time in `timeZone` is at or after `wall` (a local
 * wall-clock time encoded as if it were UTC epoch ms). For ordinary times that is the one
 * instant showing exactly `wall`; if `wall` occurs twice (clocks set back) the earlier one; if it
 * does not exist (clocks set forward over it) the instant of the transition.
 */
export function instantOfLocalWall(wall: number, timeZone: string): number {
  // UTC offsets lie within ±14 h, so the instant lies within wall ± 14 h; the offsets one day
  // either side are the candidates (zones do not change offset twice within two days).
  const before = offsetAt(wall - DAY_MS, timeZone);
  const early = wall - before;
  // Common case (two Intl calls): the offset from a day earlier still holds at `wall`. Then
  // `early` is the earliest instant showing `wall` — an earlier one would need a larger offset
  // in between, i.e. two transitions within a day — and when clocks are set back over `wall`
  // it is the first of the two occurrences.
  if (offsetAt(early, timeZone) === before) return early;
  const after = offsetAt(wall + DAY_MS, timeZone);
  const late = wall - after;
  if (offsetAt(late, timeZone) === after) return late;
  // Gap (or something stranger): binary search, to the second, for the first instant whose
  // wall clock reaches `wall`. local(t) = t + offset(t) is monotonic apart from set-backs.
  let lo = Math.floor((wall - DAY_MS) / SECOND_MS); // local(lo) < wall
  let hi = Math.ceil((wall + DAY_MS) / SECOND_MS); // local(hi) >= wall
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const t = mid * SECOND_MS;
    if (t + offsetAt(t, timeZone) >= wall) hi = mid;
    else lo = mid;
  }
  return hi * SECOND_MS;
}

// ---------------------------------------------------------------------------------------------
// Civil calendar arithmetic (proleptic Gregorian, H. Hinnant's algorithms; no Date objects)
// ---------------------------------------------------------------------------------------------

/** Days since 1970-01-01 for a civil date (month 1–12). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

interface CivilDate {
  year: number;
  month: number;
  day: number;
}

/** Civil date for days since 1970-01-01. */
function civilFromDays(days: number): CivilDate {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function padYear(y: number): string {
  return y >= 0 ? String(y).padStart(4, '0') : `-${String(-y).padStart(4, '0')}`;
}

function timeOf(date: Date): number {
  const t = date instanceof Date ? date.getTime() : Number.NaN;
  if (!Number.isFinite(t)) throw new RangeError('Invalid time value');
  return t;
}

// ---------------------------------------------------------------------------------------------
// Windows
// ---------------------------------------------------------------------------------------------

function makeWindow(kind: WindowKind, key: string, start: number, end: number): QuotaWindow {
  return Object.freeze({ kind, key, start: new Date(start), end: new Date(end) });
}

interface CacheEntry {
  readonly localDays: number; // local date of the day window, days since 1970-01-01
  readonly start: number; // day start, epoch ms
  readonly end: number; // day end, epoch ms
  readonly windows: CurrentWindows;
}

/** Last computed windows per time zone; valid while start <= now < end. */
const cache = new Map<string, CacheEntry>();

function computeWindows(t: number, timeZone: string, previous: CacheEntry | undefined): CacheEntry {
  const localDays = Math.floor((t + offsetAt(t, timeZone)) / DAY_MS);
  const { year, month, day } = civilFromDays(localDays);

  // The usual miss is the next day in the same zone: its start is the previous day's end.
  const dayStart =
    previous !== undefined && previous.localDays + 1 === localDays
      ? previous.end
      : instantOfLocalWall(localDays * DAY_MS, timeZone);
  const dayEnd = instantOfLocalWall((localDays + 1) * DAY_MS, timeZone);
  const monthKey = `${padYear(year)}-${pad2(month)}`;
  const dayWin = makeWindow('day', `${monthKey}-${pad2(day)}`, dayStart, dayEnd);

  let monthWin: QuotaWindow;
  if (previous !== undefined && previous.windows.month.key === monthKey) {
    monthWin = previous.windows.month;
  } else {
    const monthStart = instantOfLocalWall(daysFromCivil(year, month, 1) * DAY_MS, timeZone);
    const next = month === 12 ? daysFromCivil(year + 1, 1, 1) : daysFromCivil(year, month + 1, 1);
    const monthEnd = instantOfLocalWall(next * DAY_MS, timeZone);
    monthWin = makeWindow('month', monthKey, monthStart, monthEnd);
  }

  return { localDays, start: dayStart, end: dayEnd, windows: Object.freeze({ day: dayWin, month: monthWin }) };
}

/**
 * The day and month windows containing `now` in `timeZone` (IANA name).
 * Cached per zone until the day ends; throws RangeError for an invalid zone or date.
 */
export function currentWindows(now: Date, timeZone: string): CurrentWindows {
  const t = now.getTime();
  const hit = cache.get(timeZone);
  if (hit !== undefined && t >= hit.start && t < hit.end) return hit.windows;
  const entry = computeWindows(timeOf(now), timeZone, hit);
  if (hit === undefined && cache.size >= MAX_CACHED_ZONES) cache.clear();
  cache.set(timeZone, entry);
  return entry.windows;
}

/** The local calendar day containing `now`. */
export function dayWindow(now: Date, timeZone: string): QuotaWindow {
  return currentWindows(now, timeZone).day;
}

/** The local calendar month containing `now`. */
export function monthWindow(now: Date, timeZone: string): QuotaWindow {
  return currentWindows(now, timeZone).month;
}

/**
 * Whole seconds from `now` until `end`, rounded up, at least 1 (for Retry-After).
 * Also 1 if either date is invalid.
 */
export function secondsUntil(end: Date, now: Date): number {
  const seconds = Math.ceil((end.getTime() - now.getTime()) / SECOND_MS);
  return seconds >= 1 ? seconds : 1;
}

/**
 * ISO 8601 local date-time with the zone's offset, seconds precision (milliseconds truncated),
 * e.g. '2026-11-27T00:00:00+01:00'. UTC is rendered as '+00:00'.
 */
export function formatLocal(instant: Date, timeZone: string): string {
  const t = timeOf(instant);
  const offset = offsetAt(t, timeZone);
  const local = Math.floor(t / SECOND_MS) * SECOND_MS + offset;
  const days = Math.floor(local / DAY_MS);
  const { year, month, day } = civilFromDays(days);
  const secOfDay = (local - days * DAY_MS) / SECOND_MS;
  const hh = Math.floor(secOfDay / 3600);
  const mm = Math.floor((secOfDay % 3600) / 60);
  const ss = secOfDay % 60;

  const absOffsetSec = Math.abs(offset) / SECOND_MS;
  const oh = Math.floor(absOffsetSec / 3600);
  const om = Math.floor((absOffsetSec % 3600) / 60);
  const os = absOffsetSec % 60; // only historical LMT offsets have seconds
  const zone = `${offset < 0 ? '-' : '+'}${pad2(oh)}:${pad2(om)}${os === 0 ? '' : `:${pad2(os)}`}`;

  return `${padYear(year)}-${pad2(month)}-${pad2(day)}T${pad2(hh)}:${pad2(mm)}:${pad2(ss)}${zone}`;
}

/** True if `name` is a time zone this runtime knows (IANA name such as 'Europe/Berlin', 'UTC'). */
export function isValidTimeZone(name: string): boolean {
  if (typeof name !== 'string' || name === '') return false;
  if (formatters.has(name)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
