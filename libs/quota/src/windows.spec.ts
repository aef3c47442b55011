import { fromZonedTime } from 'date-fns-tz';
import {
  currentWindows,
  dayWindow,
  formatLocal,
  instantOfLocalWall,
  isValidTimeZone,
  monthWindow,
  offsetAt,
  secondsUntil,
  type QuotaWindow,
} from './windows.js';

// All expectations use explicit instants; nothing depends on the machine's time zone. The suite
// is meant to pass with TZ=UTC, TZ=America/New_York, TZ=Europe/Berlin, … in the environment.

const BERLIN = 'Europe/Berlin';
const KOLKATA = 'Asia/Kolkata';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const at = (iso: string): Date => new Date(iso);
const hours = (w: QuotaWindow): number => (w.end.getTime() - w.start.getTime()) / HOUR;
const plain = (w: QuotaWindow) => ({ kind: w.kind, key: w.key, start: w.start.toISOString(), end: w.end.toISOString() });

describe('dayWindow — Europe/Berlin', () => {
  it('spring-forward day 2026-03-29 has 23 hours', () => {
    const w = dayWindow(at('2026-03-29T12:00:00Z'), BERLIN);
    expect(plain(w)).toEqual({
      kind: 'day',
      key: '2026-03-29',
      start: '2026-03-28T23:00:00.000Z',
      end: '2026-03-29T22:00:00.000Z',
    });
    expect(hours(w)).toBe(23);
  });

  it('keeps the same day across the skipped hour (01:59:59 CET → 03:00:00 CEST)', () => {
    const before = dayWindow(at('2026-03-29T01:59:59+01:00'), BERLIN);
    const after = dayWindow(at('2026-03-29T03:00:00+02:00'), BERLIN);
    expect(before.key).toBe('2026-03-29');
    expect(after.key).toBe('2026-03-29');
    expect(after.start.getTime()).toBe(before.start.getTime());
  });

  it('fall-back day 2026-10-25 has 25 hours', () => {
    const w = dayWindow(at('2026-10-25T12:00:00Z'), BERLIN);
    expect(plain(w)).toEqual({
      kind: 'day',
      key: '2026-10-25',
      start: '2026-10-24T22:00:00.000Z',
      end: '2026-10-25T23:00:00.000Z',
    });
    expect(hours(w)).toBe(25);
  });

  it('counts both passes of the repeated hour 02:30 to the same day', () => {
    const first = dayWindow(at('2026-10-25T02:30:00+02:00'), BERLIN); // 00:30Z
    const second = dayWindow(at('2026-10-25T02:30:00+01:00'), BERLIN); // 01:30Z
    expect(first.key).toBe('2026-10-25');
    expect(second.key).toBe('2026-10-25');
    expect(second.end.toISOString()).toBe('2026-10-25T23:00:00.000Z');
  });

  it('the days around the changes have 24 hours', () => {
    expect(hours(dayWindow(at('2026-03-28T12:00:00Z'), BERLIN))).toBe(24);
    expect(hours(dayWindow(at('2026-03-30T12:00:00Z'), BERLIN))).toBe(24);
    expect(hours(dayWindow(at('2026-10-24T12:00:00Z'), BERLIN))).toBe(24);
    expect(hours(dayWindow(at('2026-10-26T12:00:00Z'), BERLIN))).toBe(24);
  });

  it('23:59:59 local counts to that day, 00:00:00 local to the next (winter, +01:00)', () => {
    const late = dayWindow(at('2026-11-26T23:59:59+01:00'), BERLIN);
    const lastMs = dayWindow(at('2026-11-26T23:59:59.999+01:00'), BERLIN);
    const midnight = dayWindow(at('2026-11-27T00:00:00+01:00'), BERLIN);
    expect(late.key).toBe('2026-11-26');
    expect(lastMs.key).toBe('2026-11-26');
    expect(late.end.toISOString()).toBe('2026-11-26T23:00:00.000Z');
    expect(midnight.key).toBe('2026-11-27');
    expect(midnight.start.toISOString()).toBe('2026-11-26T23:00:00.000Z');
    expect(midnight.start.getTime()).toBe(late.end.getTime());
  });

  it('23:59:59 local counts to that day, 00:00:00 local to the next (summer, +02:00)', () => {
    const late = dayWindow(at('2026-07-14T23:59:59+02:00'), BERLIN);
    const midnight = dayWindow(at('2026-07-15T00:00:00+02:00'), BERLIN);
    expect(plain(late)).toEqual({
      kind: 'day',
      key: '2026-07-14',
      start: '2026-07-13T22:00:00.000Z',
      end: '2026-07-14T22:00:00.000Z',
    });
    expect(midnight.key).toBe('2026-07-15');
    expect(midnight.start.toISOString()).toBe('2026-07-14T22:00:00.000Z');
  });

  it('uses the local date, not the UTC date', () => {
    // 23:30Z on the 26th is already 00:30 on the 27th in Berlin.
    expect(dayWindow(at('2026-11-26T23:30:00Z'), BERLIN).key).toBe('2026-11-27');
    expect(dayWindow(at('2026-11-26T23:30:00Z'), 'UTC').key).toBe('2026-11-26');
  });
});

describe('monthWindow — Europe/Berlin', () => {
  it('2026-11-30T23:59:59 local is November, 2026-12-01T00:00:00 local is December', () => {
    const nov = monthWindow(at('2026-11-30T23:59:59+01:00'), BERLIN);
    const dec = monthWindow(at('2026-12-01T00:00:00+01:00'), BERLIN);
    expect(plain(nov)).toEqual({
      kind: 'month',
      key: '2026-11',
      start: '2026-10-31T23:00:00.000Z',
      end: '2026-11-30T23:00:00.000Z',
    });
    expect(plain(dec)).toEqual({
      kind: 'month',
      key: '2026-12',
      start: '2026-11-30T23:00:00.000Z',
      end: '2026-12-31T23:00:00.000Z',
    });
  });

  it('changes year from December to January', () => {
    const dec = currentWindows(at('2026-12-31T23:59:59+01:00'), BERLIN);
    const jan = currentWindows(at('2027-01-01T00:00:00+01:00'), BERLIN);
    expect(dec.day.key).toBe('2026-12-31');
    expect(dec.month.key).toBe('2026-12');
    expect(dec.month.end.toISOString()).toBe('2026-12-31T23:00:00.000Z');
    expect(jan.day.key).toBe('2027-01-01');
    expect(plain(jan.month)).toEqual({
      kind: 'month',
      key: '2027-01',
      start: '2026-12-31T23:00:00.000Z',
      end: '2027-01-31T23:00:00.000Z',
    });
  });

  it('February has 28 days in 2026 and 29 in 2028', () => {
    const feb26 = monthWindow(at('2026-02-15T12:00:00Z'), BERLIN);
    expect(plain(feb26)).toEqual({
      kind: 'month',
      key: '2026-02',
      start: '2026-01-31T23:00:00.000Z',
      end: '2026-02-28T23:00:00.000Z',
    });
    expect(hours(feb26)).toBe(28 * 24);

    const leapDay = currentWindows(at('2028-02-29T23:59:59+01:00'), BERLIN);
    expect(leapDay.day.key).toBe('2028-02-29');
    expect(leapDay.month.key).toBe('2028-02');
    expect(hours(leapDay.month)).toBe(29 * 24);
    expect(monthWindow(at('2028-03-01T00:00:00+01:00'), BERLIN).key).toBe('2028-03');
  });

  it('months containing a DST change are an hour shorter or longer', () => {
    const mar = monthWindow(at('2026-03-15T12:00:00Z'), BERLIN);
    expect(plain(mar)).toEqual({
      kind: 'month',
      key: '2026-03',
      start: '2026-02-28T23:00:00.000Z',
      end: '2026-03-31T22:00:00.000Z',
    });
    expect(hours(mar)).toBe(31 * 24 - 1);
    const oct = monthWindow(at('2026-10-15T12:00:00Z'), BERLIN);
    expect(oct.start.toISOString()).toBe('2026-09-30T22:00:00.000Z');
    expect(oct.end.toISOString()).toBe('2026-10-31T23:00:00.000Z');
    expect(hours(oct)).toBe(31 * 24 + 1);
  });
});

describe('other zones', () => {
  it('Asia/Kolkata (+05:30): the day changes at 18:30Z', () => {
    const late = currentWindows(at('2026-05-10T18:29:59Z'), KOLKATA);
    const next = currentWindows(at('2026-05-10T18:30:00Z'), KOLKATA);
    expect(plain(late.day)).toEqual({
      kind: 'day',
      key: '2026-05-10',
      start: '2026-05-09T18:30:00.000Z',
      end: '2026-05-10T18:30:00.000Z',
    });
    expect(next.day.key).toBe('2026-05-11');
    expect(plain(late.month)).toEqual({
      kind: 'month',
      key: '2026-05',
      start: '2026-04-30T18:30:00.000Z',
      end: '2026-05-31T18:30:00.000Z',
    });
  });

  it('Asia/Kolkata month end', () => {
    expect(monthWindow(at('2026-05-31T23:59:59+05:30'), KOLKATA).key).toBe('2026-05');
    expect(monthWindow(at('2026-06-01T00:00:00+05:30'), KOLKATA).key).toBe('2026-06');
  });

  it('UTC: windows are aligned to UTC midnight', () => {
    const w = currentWindows(at('2026-12-31T23:59:59.999Z'), 'UTC');
    expect(plain(w.day)).toEqual({
      kind: 'day',
      key: '2026-12-31',
      start: '2026-12-31T00:00:00.000Z',
      end: '2027-01-01T00:00:00.000Z',
    });
    expect(plain(w.month)).toEqual({
      kind: 'month',
      key: '2026-12',
      start: '2026-12-01T00:00:00.000Z',
      end: '2027-01-01T00:00:00.000Z',
    });
    const next = currentWindows(at('2027-01-01T00:00:00Z'), 'UTC');
    expect(next.day.key).toBe('2027-01-01');
    expect(next.month.key).toBe('2027-01');
  });

  it('America/Santiago: a day whose midnight does not exist starts at the transition', () => {
    // 2026-09-06 00:00 -04 → 01:00 -03: the day starts at 04:00Z and has 23 hours.
    const gap = dayWindow(at('2026-09-06T12:00:00Z'), 'America/Santiago');
    expect(plain(gap)).toEqual({
      kind: 'day',
      key: '2026-09-06',
      start: '2026-09-06T04:00:00.000Z',
      end: '2026-09-07T03:00:00.000Z',
    });
    expect(dayWindow(at('2026-09-06T03:59:59Z'), 'America/Santiago').key).toBe('2026-09-05');
    // 2026-04-05 00:00 -03 → 2026-04-04 23:00 -04: the 4th has 25 hours.
    const long = dayWindow(at('2026-04-04T12:00:00Z'), 'America/Santiago');
    expect(plain(long)).toEqual({
      kind: 'day',
      key: '2026-04-04',
      start: '2026-04-04T03:00:00.000Z',
      end: '2026-04-05T04:00:00.000Z',
    });
  });

  it('America/New_York: DST at 02:00 does not move midnight', () => {
    const w = dayWindow(at('2026-03-08T12:00:00Z'), 'America/New_York');
    expect(plain(w)).toEqual({
      kind: 'day',
      key: '2026-03-08',
      start: '2026-03-08T05:00:00.000Z',
      end: '2026-03-09T04:00:00.000Z',
    });
  });
});

describe('properties over a whole year', () => {
  const zones = [BERLIN, KOLKATA, 'UTC', 'America/New_York', 'Australia/Sydney', 'America/Santiago'];

  it.each(zones)('%s: windows contain now, are contiguous and 23–25 h long', (tz) => {
    // Collect violations and assert once: a Jest expect per step would make this take seconds.
    const problems: string[] = [];
    let previous: QuotaWindow | undefined;
    const start = Date.parse('2026-01-01T00:00:00Z');
    for (let t = start; t < start + 366 * DAY; t += HOUR / 2) {
      const { day, month } = currentWindows(new Date(t), tz);
      const iso = new Date(t).toISOString();
      if (!(day.start.getTime() <= t && t < day.end.getTime())) problems.push(`${iso}: not in day ${day.key}`);
      if (!(month.start.getTime() <= day.start.getTime() && day.end.getTime() <= month.end.getTime())) {
        problems.push(`${iso}: day ${day.key} not in month ${month.key}`);
      }
      if (!day.key.startsWith(month.key)) problems.push(`${iso}: key ${day.key} vs ${month.key}`);
      if (previous !== undefined && previous.key !== day.key) {
        if (day.start.getTime() !== previous.end.getTime()) problems.push(`${iso}: gap before ${day.key}`);
        if (![23, 24, 25].includes(hours(previous))) problems.push(`${previous.key}: ${hours(previous)} h`);
      }
      previous = day;
    }
    expect(problems).toEqual([]);
  });

  it.each([BERLIN, KOLKATA, 'UTC', 'America/New_York', 'Australia/Sydney'])(
    '%s: day starts agree with date-fns-tz fromZonedTime',
    (tz) => {
      const start = Date.parse('2026-01-01T12:00:00Z');
      for (let i = 0; i < 365; i++) {
        const day = dayWindow(new Date(start + i * DAY), tz);
        expect(day.start.getTime()).toBe(fromZonedTime(`${day.key}T00:00:00`, tz).getTime());
        expect(formatLocal(day.start, tz).slice(0, 19)).toBe(`${day.key}T00:00:00`);
      }
    },
  );
});

describe('currentWindows cache', () => {
  it('returns the same (frozen) windows within a day and new ones after it', () => {
    const a = currentWindows(at('2026-06-10T08:00:00+02:00'), BERLIN);
    const b = currentWindows(at('2026-06-10T23:59:59+02:00'), BERLIN);
    expect(b).toBe(a);
    expect(Object.isFrozen(a.day)).toBe(true);
    const c = currentWindows(at('2026-06-11T00:00:00+02:00'), BERLIN);
    expect(c).not.toBe(a);
    expect(c.day.key).toBe('2026-06-11');
    expect(c.month).toBe(a.month); // same month is reused
  });

  it('does not share windows between time zones', () => {
    const now = at('2026-05-10T20:00:00Z'); // Berlin 22:00 on the 10th, Kolkata 01:30 on the 11th
    for (let i = 0; i < 3; i++) {
      expect(currentWindows(now, BERLIN).day.key).toBe('2026-05-10');
      expect(currentWindows(now, KOLKATA).day.key).toBe('2026-05-11');
    }
    expect(dayWindow(now, BERLIN).start.toISOString()).toBe('2026-05-09T22:00:00.000Z');
    expect(dayWindow(now, KOLKATA).start.toISOString()).toBe('2026-05-10T18:30:00.000Z');
  });

  it('recomputes when the clock goes backwards', () => {
    expect(dayWindow(at('2026-08-20T12:00:00Z'), BERLIN).key).toBe('2026-08-20');
    expect(dayWindow(at('2026-08-19T12:00:00Z'), BERLIN).key).toBe('2026-08-19');
    expect(monthWindow(at('2026-07-31T12:00:00Z'), BERLIN).key).toBe('2026-07');
  });

  it('rejects invalid zones and dates', () => {
    expect(() => currentWindows(at('2026-05-10T20:00:00Z'), 'Nope/Nowhere')).toThrow(RangeError);
    expect(() => dayWindow(at('2026-05-10T20:00:00Z'), '')).toThrow(RangeError);
    expect(() => monthWindow(new Date(Number.NaN), BERLIN)).toThrow(RangeError);
  });
});

describe('secondsUntil', () => {
  const now = at('2026-11-26T12:00:00.000Z');
  const plus = (ms: number): Date => new Date(now.getTime() + ms);

  it('rounds up to whole seconds', () => {
    expect(secondsUntil(plus(1_000), now)).toBe(1);
    expect(secondsUntil(plus(1_001), now)).toBe(2);
    expect(secondsUntil(plus(1_999), now)).toBe(2);
    expect(secondsUntil(plus(59_000), now)).toBe(59);
    expect(secondsUntil(plus(DAY), now)).toBe(86_400);
  });

  it('is at least 1', () => {
    expect(secondsUntil(plus(1), now)).toBe(1);
    expect(secondsUntil(plus(0), now)).toBe(1);
    expect(secondsUntil(plus(-5_000), now)).toBe(1);
    expect(secondsUntil(new Date(Number.NaN), now)).toBe(1);
  });

  it('gives the seconds until local midnight from 23:59:59.5', () => {
    const t = at('2026-11-26T23:59:59.500+01:00');
    expect(secondsUntil(dayWindow(t, BERLIN).end, t)).toBe(1);
    const s = at('2026-10-25T00:00:00+02:00');
    expect(secondsUntil(dayWindow(s, BERLIN).end, s)).toBe(25 * 3600);
  });
});

describe('formatLocal', () => {
  it('renders Berlin winter time with +01:00 and summer time with +02:00', () => {
    expect(formatLocal(at('2026-11-26T23:00:00Z'), BERLIN)).toBe('2026-11-27T00:00:00+01:00');
    expect(formatLocal(at('2026-07-14T22:00:00Z'), BERLIN)).toBe('2026-07-15T00:00:00+02:00');
  });

  it('renders the instants around the DST changes', () => {
    expect(formatLocal(at('2026-03-29T00:59:59Z'), BERLIN)).toBe('2026-03-29T01:59:59+01:00');
    expect(formatLocal(at('2026-03-29T01:00:00Z'), BERLIN)).toBe('2026-03-29T03:00:00+02:00');
    expect(formatLocal(at('2026-10-25T00:30:00Z'), BERLIN)).toBe('2026-10-25T02:30:00+02:00');
    expect(formatLocal(at('2026-10-25T01:30:00Z'), BERLIN)).toBe('2026-10-25T02:30:00+01:00');
  });

  it('is independent of the machine time zone, even in its DST gap', () => {
    // 02:30 Berlin on 2026-03-08 does not exist in America/New_York (date-fns-tz's
    // formatInTimeZone prints 03:30 there when TZ=America/New_York).
    expect(formatLocal(at('2026-03-08T01:30:00Z'), BERLIN)).toBe('2026-03-08T02:30:00+01:00');
  });

  it('renders other offsets and truncates milliseconds', () => {
    expect(formatLocal(at('2026-05-10T18:30:00Z'), KOLKATA)).toBe('2026-05-11T00:00:00+05:30');
    expect(formatLocal(at('2026-01-01T00:00:00.999Z'), 'UTC')).toBe('2026-01-01T00:00:00+00:00');
    expect(formatLocal(at('2026-01-15T17:04:05Z'), 'America/New_York')).toBe('2026-01-15T12:04:05-05:00');
  });

  it('formats the end of a window for refusal messages', () => {
    const w = dayWindow(at('2026-11-26T15:00:00Z'), BERLIN);
    expect(formatLocal(w.end, BERLIN)).toBe('2026-11-27T00:00:00+01:00');
    const m = monthWindow(at('2026-11-26T15:00:00Z'), BERLIN);
    expect(formatLocal(m.end, BERLIN)).toBe('2026-12-01T00:00:00+01:00');
  });
});

describe('isValidTimeZone', () => {
  it('accepts IANA names', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone(KOLKATA)).toBe(true);
  });

  it('rejects unknown names, empty strings, bare offsets and non-strings', () => {
    expect(isValidTimeZone('Nope/Nowhere')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
    expect(isValidTimeZone('+01:00')).toBe(false);
    expect(isValidTimeZone(undefined as unknown as string)).toBe(false);
  });
});

describe('helpers', () => {
  it('offsetAt is the offset at the instant', () => {
    expect(offsetAt(Date.parse('2026-03-29T00:59:59Z'), BERLIN)).toBe(HOUR);
    expect(offsetAt(Date.parse('2026-03-29T01:00:00Z'), BERLIN)).toBe(2 * HOUR);
    expect(offsetAt(Date.parse('2026-05-10T12:00:00.500Z'), KOLKATA)).toBe(5.5 * HOUR);
    expect(offsetAt(Date.parse('2026-01-15T12:00:00Z'), 'America/New_York')).toBe(-5 * HOUR);
  });

  it('instantOfLocalWall picks the first occurrence of a repeated time and the transition for a skipped one', () => {
    expect(new Date(instantOfLocalWall(Date.parse('2026-10-25T02:30:00Z'), BERLIN)).toISOString()).toBe(
      '2026-10-25T00:30:00.000Z',
    );
    expect(new Date(instantOfLocalWall(Date.parse('2026-03-29T02:30:00Z'), BERLIN)).toISOString()).toBe(
      '2026-03-29T01:00:00.000Z',
    );
  });
});
