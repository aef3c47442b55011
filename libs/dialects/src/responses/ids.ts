import { randomBytesFromPool } from '../random-pool.js';

/** OpenAI's ids are a prefix and 48 hex digits (`resp_…`, `msg_…`, `rs_…`, `fc_…`). */
function newId(prefix: string): string {
  return `${prefix}_${randomBytesFromPool(24).toString('hex')}`;
}

export const newResponseId = (): string => newId('resp');
export const newMessageItemId = (): string => newId('msg');
export const newReasoningItemId = (): string => newId('rs');
export const newFunctionCallItemId = (): string => newId('fc');
