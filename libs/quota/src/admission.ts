import type { QuotaLimits } from '@llmproxy/keys';
import type { QuotaWindow, WindowKind } from './windows.js';

/** One window's counters as stored: settled usage and what requests in flight hold. */
export interface WindowCounters {
  requests: number;
  tokens: number;
  reservedTokens: number;
}

export interface AdmissionInput {
  limits: QuotaLimits;
  day: WindowCounters;
  month: WindowCounters;
  /** Estimated prompt tokens of this request. */
  promptEstimate: number;
  /**
   * The completion limit the client asked for (num_predict, max_tokens); null = none. Only a positive
   * integer names one (see `namedCompletionLimit`): anything else counts as none.
   */
  requestedMaxTokens: number | null;
  /** Inference that generates (chat, generate, messages) needs room for at least one output token; embed does not. */
  generates: boolean;
  /** The key's limit of requests in flight at once (null = none) and how many it has now. */
  maxConcurrent?: number | null;
  inFlight?: number;
}

export type QuotaKind = 'requests' | 'tokens' | 'concurrency';

/**
 * The completion cap of a request that names none (no num_predict / max_tokens) on a key with a
 * token limit. Without it such a request would hold every token the key has left until it finished,
 * refusing the key's other requests meanwhile; with it a key runs as many requests at once as its
 * remaining tokens allow. An answer that reaches it ends as a length-capped answer does.
 */
export const DEFAULT_COMPLETION_CAP = 8_192;

/**
 * The completion limit a request names, as the rule reads it: a positive integer, or null for none.
 * Ollama reads a num_predict of 0 or below as "no limit" (-2: fill the context), and a fraction would
 * be floored to 0; taken as a cap, any of them would let a token-limited key generate without end,
 * so they name none and the default cap applies. (A value above what the key has left caps the same
 * as that rest.)
 */
export function namedCompletionLimit(requested: number | null): number | null {
  return requested !== null && Number.isInteger(requested) && requested > 0 ? requested : null;
}

export type Admission =
  | {
      admitted: true;
      /** Tokens held until settlement: the prompt estimate plus the completion cap (0 without token limits). */
      reservedTokens: number;
      /**
       * num_predict to send to Ollama; null = leave the client's choice alone (no token limit, or it
       * does not generate). With a token limit a generating request always gets an integer ≥ 1 and ≤
       * what the key has left: never 0, which Ollama would read as "no limit".
       */
      completionCap: number | null;
    }
  | {
      admitted: false;
      kind: QuotaKind;
      window: WindowKind;
      limit: number;
      /** True when settled usage alone would have admitted it: requests in flight hold the rest. */
      heldByInFlight: boolean;
    };

/**
 * Decides one admission from the counters read under lock. Requests: this one must fit in every
 * request limit. Tokens: the prompt estimate must fit in what every token window has left after
 * settled and reserved tokens, and the completion is capped to the rest, which is reserved too —
 * so concurrent streams together can overrun a limit only by the estimate's error.
 */
export function decideAdmission(input: AdmissionInput): Admission {
  const { limits, day, month } = input;
  if (input.maxConcurrent != null && (input.inFlight ?? 0) >= input.maxConcurrent) {
    return { admitted: false, kind: 'concurrency', window: 'day', limit: input.maxConcurrent, heldByInFlight: true };
  }
  for (const [window, counters, limit] of [
    ['day', day, limits.dailyRequests],
    ['month', month, limits.monthlyRequests],
  ] as const) {
    if (limit !== null && counters.requests + 1 > limit) {
      return { admitted: false, kind: 'requests', window, limit, heldByInFlight: false };
    }
  }

  let remaining = Number.POSITIVE_INFINITY;
  for (const [window, counters, limit] of [
    ['day', day, limits.dailyTokens],
    ['month', month, limits.monthlyTokens],
  ] as const) {
    if (limit === null) continue;
    const left = limit - counters.tokens - counters.reservedTokens;
    const needed = input.promptEstimate + (input.generates ? 1 : 0);
    if (needed > left) {
      const heldByInFlight = needed <= limit - counters.tokens;
      return { admitted: false, kind: 'tokens', window, limit, heldByInFlight };
    }
    remaining = Math.min(remaining, left);
  }

  if (remaining === Number.POSITIVE_INFINITY) return { admitted: true, reservedTokens: 0, completionCap: null };
  // At least 1: `needed` (prompt + 1) fit in every limited window.
  const room = remaining - input.promptEstimate;
  const cap = input.generates ? Math.min(room, namedCompletionLimit(input.requestedMaxTokens) ?? DEFAULT_COMPLETION_CAP) : 0;
  return { admitted: true, reservedTokens: input.promptEstimate + cap, completionCap: input.generates ? cap : null };
}

/**
 * How much room a cheap upper bound of the prompt (`promptTokenBound` in libs/metering: the UTF-8
 * length, never below the estimate) needs before it may stand in for the tiktoken estimate: every
 * limited token window must have at least BOUND_HEADROOM × (bound + the full completion cap) left.
 * Then the estimate, being smaller, would be admitted with the same completion cap, so the decision
 * is the same and only the reservation is larger (over-reserving is safe; the headroom keeps it from
 * crowding out a key's concurrent requests). Otherwise the caller computes the estimate and decides
 * again with `decideAdmission`.
 */
export const BOUND_HEADROOM = 8;

/**
 * `decideAdmission` when `input.promptEstimate` is only an upper bound of the estimate: the same
 * decision, or 'estimate' when the bound could change it (a token refusal, or less than
 * BOUND_HEADROOM × (bound + full completion cap) left in a limited token window). Refusals for
 * concurrency or requests do not depend on the estimate and are returned as they are.
 */
export function decideWithBound(input: AdmissionInput): Admission | 'estimate' {
  const admission = decideAdmission(input);
  if (!admission.admitted) return admission.kind === 'tokens' ? 'estimate' : admission;
  const fullCap = input.generates ? (namedCompletionLimit(input.requestedMaxTokens) ?? DEFAULT_COMPLETION_CAP) : 0;
  for (const [counters, limit] of [
    [input.day, input.limits.dailyTokens],
    [input.month, input.limits.monthlyTokens],
  ] as const) {
    if (limit === null) continue;
    if (BOUND_HEADROOM * (input.promptEstimate + fullCap) > limit - counters.tokens - counters.reservedTokens) return 'estimate';
  }
  return admission;
}

/** The message of a refusal, naming the limit and when it resets. */
export function refusalMessage(refusal: Extract<Admission, { admitted: false }>, window: QuotaWindow, resetsAt: string): string {
  if (refusal.kind === 'concurrency') {
    return `concurrency limit of ${refusal.limit} requests in flight reached; retry when one finishes`;
  }
  const name = `${window.kind === 'day' ? 'daily' : 'monthly'} ${refusal.kind === 'tokens' ? 'token' : 'request'} quota of ${refusal.limit}`;
  if (refusal.heldByInFlight) {
    return `${name} is held by requests in flight; retry when they finish (resets ${resetsAt})`;
  }
  return `${name} exhausted; resets ${resetsAt}`;
}
