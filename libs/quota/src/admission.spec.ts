import type { QuotaLimits } from '@llmproxy/keys';
import { BOUND_HEADROOM, DEFAULT_COMPLETION_CAP, decideAdmission, decideWithBound, namedCompletionLimit, refusalMessage, type AdmissionInput } from './admission.js';
import { dayWindow } from './windows.js';

const none: QuotaLimits = { dailyTokens: null, monthlyTokens: null, dailyRequests: null, monthlyRequests: null };
const empty = { requests: 0, tokens: 0, reservedTokens: 0 };

function input(overrides: Partial<AdmissionInput>): AdmissionInput {
  return { limits: none, day: empty, month: empty, promptEstimate: 10, requestedMaxTokens: null, generates: true, ...overrides };
}

describe('decideAdmission', () => {
  it('admits anything, reserving nothing and capping nothing, without limits', () => {
    expect(decideAdmission(input({ day: { requests: 1e9, tokens: 1e12, reservedTokens: 5 } }))).toEqual({
      admitted: true,
      reservedTokens: 0,
      completionCap: null,
    });
  });

  it('admits the request that reaches a request limit and refuses the one after it', () => {
    const limits = { ...none, dailyRequests: 50 };
    expect(decideAdmission(input({ limits, day: { ...empty, requests: 49 } })).admitted).toBe(true);
    expect(decideAdmission(input({ limits, day: { ...empty, requests: 50 } }))).toEqual({
      admitted: false,
      kind: 'requests',
      window: 'day',
      limit: 50,
      heldByInFlight: false,
    });
  });

  it('checks the monthly request limit too', () => {
    const limits = { ...none, dailyRequests: 100, monthlyRequests: 3 };
    expect(decideAdmission(input({ limits, month: { ...empty, requests: 3 } }))).toMatchObject({ admitted: false, window: 'month' });
  });

  it('caps the completion to what remains after the prompt, and reserves prompt plus cap', () => {
    const limits = { ...none, dailyTokens: 1000 };
    expect(decideAdmission(input({ limits, day: { requests: 0, tokens: 600, reservedTokens: 100 }, promptEstimate: 50 }))).toEqual({
      admitted: true,
      reservedTokens: 300,
      completionCap: 250,
    });
  });

  it('caps a request that names no max_tokens at DEFAULT_COMPLETION_CAP, so the key keeps room for others', () => {
    const limits = { ...none, dailyTokens: 1_000_000 };
    expect(decideAdmission(input({ limits, promptEstimate: 50 }))).toEqual({
      admitted: true,
      reservedTokens: 50 + DEFAULT_COMPLETION_CAP,
      completionCap: DEFAULT_COMPLETION_CAP,
    });
  });

  it('keeps a smaller client max_tokens and reserves only that', () => {
    const limits = { ...none, dailyTokens: 1000 };
    expect(decideAdmission(input({ limits, promptEstimate: 50, requestedMaxTokens: 20 }))).toEqual({
      admitted: true,
      reservedTokens: 70,
      completionCap: 20,
    });
  });

  it('binds on the tighter of the day and month token windows', () => {
    const limits = { ...none, dailyTokens: 1000, monthlyTokens: 5000 };
    const admission = decideAdmission(input({ limits, month: { requests: 0, tokens: 4900, reservedTokens: 0 }, promptEstimate: 40 }));
    expect(admission).toEqual({ admitted: true, reservedTokens: 100, completionCap: 60 });
  });

  it('refuses a prompt whose estimate alone exceeds what remains', () => {
    const limits = { ...none, dailyTokens: 1000 };
    expect(decideAdmission(input({ limits, day: { requests: 0, tokens: 990, reservedTokens: 0 }, promptEstimate: 10 }))).toEqual({
      admitted: false,
      kind: 'tokens',
      window: 'day',
      limit: 1000,
      heldByInFlight: false,
    });
  });

  it('says when requests in flight, not settled usage, hold the tokens', () => {
    const limits = { ...none, dailyTokens: 1000 };
    expect(decideAdmission(input({ limits, day: { requests: 0, tokens: 100, reservedTokens: 900 } }))).toMatchObject({
      admitted: false,
      heldByInFlight: true,
    });
  });

  it('admits an embedding that exactly fills the remainder, with no completion cap', () => {
    const limits = { ...none, dailyTokens: 100 };
    expect(decideAdmission(input({ limits, day: { requests: 0, tokens: 90, reservedTokens: 0 }, promptEstimate: 10, generates: false }))).toEqual({
      admitted: true,
      reservedTokens: 10,
      completionCap: null,
    });
  });
});

describe('the completion cap of a token-limited key', () => {
  /** What a client can put in num_predict / max_tokens that is not a positive integer. */
  const namesNone = [0, -0, -1, -2, -1e308, 0.5, 0.999, 1.5, 8_191.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

  it('takes a requested 0, negative, fraction or non-finite value as none named: the default cap applies', () => {
    const limits = { ...none, dailyTokens: 1_000_000 };
    for (const requestedMaxTokens of namesNone) {
      expect(namedCompletionLimit(requestedMaxTokens)).toBeNull();
      expect({ requestedMaxTokens, admission: decideAdmission(input({ limits, promptEstimate: 50, requestedMaxTokens })) }).toEqual({
        requestedMaxTokens,
        admission: { admitted: true, reservedTokens: 50 + DEFAULT_COMPLETION_CAP, completionCap: DEFAULT_COMPLETION_CAP },
      });
      // …and what is left caps it as it caps the default.
      expect(decideAdmission(input({ limits: { ...none, dailyTokens: 100 }, promptEstimate: 50, requestedMaxTokens }))).toEqual({ admitted: true, reservedTokens: 100, completionCap: 50 });
    }
  });

  it('keeps a positive integer, however large, capped to what is left', () => {
    const limits = { ...none, dailyTokens: 1_000 };
    for (const [requestedMaxTokens, cap] of [
      [1, 1],
      [949, 949],
      [950, 950],
      [951, 950],
      [Number.MAX_SAFE_INTEGER, 950],
      [2 ** 63, 950],
      [1e308, 950],
    ] as const) {
      expect(namedCompletionLimit(requestedMaxTokens)).toBe(requestedMaxTokens);
      expect(decideAdmission(input({ limits, promptEstimate: 50, requestedMaxTokens }))).toEqual({ admitted: true, reservedTokens: 50 + cap, completionCap: cap });
    }
  });

  it('is an integer from 1 to what the key has left on every generated input, decided with the estimate or a bound', () => {
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const int = (max: number) => Math.floor(random() * (max + 1));
    const pick = <T>(values: readonly T[]) => values[int(values.length - 1)]!;
    const requested = () =>
      pick([null, 0, -1, -2, -int(10_000), 0.5, int(100) + 0.25, 1, int(20_000), 2 ** 53, 1e308, Number.NaN, Number.POSITIVE_INFINITY] as const);
    let checked = 0;
    for (let i = 0; i < 20_000; i++) {
      const tokenLimit = () => (random() < 0.3 ? int(10 ** 12) : int(30_000));
      const limits = { dailyTokens: random() < 0.7 ? tokenLimit() : null, monthlyTokens: random() < 0.5 ? tokenLimit() : null, dailyRequests: null, monthlyRequests: null };
      const day = { requests: 0, tokens: int(20_000), reservedTokens: int(10_000) };
      const month = { requests: 0, tokens: int(20_000), reservedTokens: int(10_000) };
      const c = input({ limits, day, month, promptEstimate: int(random() < 0.5 ? 100 : 20_000), requestedMaxTokens: requested() });
      const left = Math.min(
        ...([
          [limits.dailyTokens, day],
          [limits.monthlyTokens, month],
        ] as const).flatMap(([limit, counters]) => (limit === null ? [] : [limit - counters.tokens - counters.reservedTokens])),
      );
      for (const admission of [decideAdmission(c), decideWithBound(c)]) {
        if (admission === 'estimate' || !admission.admitted) continue;
        if (limits.dailyTokens === null && limits.monthlyTokens === null) {
          if (admission.completionCap !== null) expect({ c, admission }).toEqual({ c, admission: { ...admission, completionCap: null } });
          continue;
        }
        checked++;
        const cap = admission.completionCap!;
        const expected = Math.min(left - c.promptEstimate, namedCompletionLimit(c.requestedMaxTokens) ?? DEFAULT_COMPLETION_CAP);
        const ok = Number.isInteger(cap) && cap >= 1 && cap <= left - c.promptEstimate && cap === expected && admission.reservedTokens === c.promptEstimate + cap;
        // The case is named only when it fails (stringifying 20,000 cases costs seconds).
        if (!ok) expect({ c, admission }).toEqual({ c, admission: { admitted: true, completionCap: expected, reservedTokens: c.promptEstimate + expected } });
      }
    }
    expect(checked).toBeGreaterThan(5_000);
  });
});

describe('concurrency', () => {
  it('refuses when the key already has max_concurrent requests in flight', () => {
    expect(decideAdmission(input({ maxConcurrent: 2, inFlight: 1 })).admitted).toBe(true);
    expect(decideAdmission(input({ maxConcurrent: 2, inFlight: 2 }))).toMatchObject({ admitted: false, kind: 'concurrency', limit: 2, heldByInFlight: true });
  });
});

describe('refusalMessage', () => {
  it('names the limit and when its window resets', () => {
    const window = dayWindow(new Date('2026-11-26T12:00:00Z'), 'Europe/Berlin');
    const message = refusalMessage({ admitted: false, kind: 'tokens', window: 'day', limit: 100000, heldByInFlight: false }, window, '2026-11-27T00:00:00+01:00');
    expect(message).toBe('daily token quota of 100000 exhausted; resets 2026-11-27T00:00:00+01:00');
  });
});

describe('decideWithBound', () => {
  it('decides with the bound only where every estimate up to it gets the same decision and cap', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const int = (max: number) => Math.floor(random() * (max + 1));
    const maybe = (value: () => number) => (random() < 0.5 ? value() : null);
    let used = 0;
    for (let i = 0; i < 5_000; i++) {
      const bound = 1 + int(50_000);
      const tokenLimit = () => (random() < 0.5 ? int(2_000_000) : int(100_000));
      const base = input({
        limits: { dailyTokens: maybe(tokenLimit), monthlyTokens: maybe(tokenLimit), dailyRequests: maybe(() => int(20)), monthlyRequests: null },
        day: { requests: int(20), tokens: int(100_000), reservedTokens: int(100_000) },
        month: { requests: 0, tokens: int(100_000), reservedTokens: int(100_000) },
        requestedMaxTokens: maybe(() => int(20_000)),
        generates: random() < 0.8,
        maxConcurrent: maybe(() => int(3)),
        inFlight: int(3),
      });
      const withBound = decideWithBound({ ...base, promptEstimate: bound });
      if (withBound === 'estimate') continue;
      used++;
      for (const estimate of [1, int(bound), bound]) {
        const exact = decideAdmission({ ...base, promptEstimate: estimate });
        if (withBound.admitted) {
          const tokenLimited = base.limits.dailyTokens !== null || base.limits.monthlyTokens !== null;
          expect(exact).toEqual({ admitted: true, completionCap: withBound.completionCap, reservedTokens: tokenLimited ? withBound.reservedTokens - bound + estimate : 0 });
        } else {
          expect(exact).toEqual(withBound);
        }
      }
    }
    expect(used).toBeGreaterThan(500);
  });

  it('asks for the estimate when a token window has less than the headroom left', () => {
    const limits = { ...none, dailyTokens: BOUND_HEADROOM * (100 + DEFAULT_COMPLETION_CAP) };
    expect(decideWithBound(input({ limits, promptEstimate: 100 }))).toEqual({ admitted: true, reservedTokens: 100 + DEFAULT_COMPLETION_CAP, completionCap: DEFAULT_COMPLETION_CAP });
    expect(decideWithBound(input({ limits, promptEstimate: 101 }))).toBe('estimate');
    expect(decideWithBound(input({ limits: { ...none, dailyTokens: 5 }, promptEstimate: 100 }))).toBe('estimate');
  });
});
