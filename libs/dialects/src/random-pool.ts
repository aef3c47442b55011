import { randomFillSync } from 'node:crypto';

/** Bytes drawn from the CSPRNG per refill: an id per request takes 8–29, so one refill serves ~150 ids. */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * `length` fresh bytes from the operating system's CSPRNG, each handed out once. The ids every
 * translated request needs (a completion, message or response id) came from `randomBytes` one call
 * each (~2–6 µs, most of it the call); refilling a pool costs that once per ~150 ids, as node's own
 * `randomUUID` does. The returned view is valid until the next call: read it at once.
 */
export function randomBytesFromPool(length: number): Buffer {
  if (length > POOL_BYTES) return randomFillSync(Buffer.allocUnsafe(length));
  if (offset + length > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + length);
  offset += length;
  return bytes;
}
