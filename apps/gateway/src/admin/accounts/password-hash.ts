import { randomBytes, scrypt, type ScryptOptions, timingSafeEqual } from 'node:crypto';

/**
 * An account's password as stored: `scrypt$<N>$<r>$<p>$<salt>$<hash>` (salt and hash base64url).
 * The parameters travel with each hash, so raising them later leaves older hashes verifiable.
 * N = 2^15, r = 8, p = 1 is 32 MiB and some tens of milliseconds per check: cheap for a login,
 * expensive for a guesser with a copy of the table.
 */
export interface ScryptParameters {
  N: number;
  r: number;
  p: number;
}

export const SCRYPT_PARAMETERS: ScryptParameters = { N: 2 ** 15, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Bounds what a tampered row may ask of the process. */
const MAX_N = 2 ** 20;

export async function hashPassword(password: string, parameters: ScryptParameters = SCRYPT_PARAMETERS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, HASH_BYTES, parameters);
  return ['scrypt', parameters.N, parameters.r, parameters.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** Whether `password` is the one `stored` was made from; constant-time on the derived bytes. A malformed `stored` is false. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return false;
  const candidate = await derive(password, parsed.salt, parsed.hash.length, parsed.parameters);
  return timingSafeEqual(candidate, parsed.hash);
}

function parse(stored: string): { parameters: ScryptParameters; salt: Buffer; hash: Buffer } | undefined {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return undefined;
  const parameters = { N: Number(n), r: Number(r), p: Number(p) };
  const valid = Number.isInteger(parameters.N) && parameters.N > 1 && parameters.N <= MAX_N && (parameters.N & (parameters.N - 1)) === 0;
  if (!valid || !Number.isInteger(parameters.r) || !Number.isInteger(parameters.p) || parameters.r < 1 || parameters.p < 1 || parameters.r * parameters.p > 64) return undefined;
  const hashBytes = Buffer.from(hash, 'base64url');
  if (hashBytes.length < 16) return undefined;
  return { parameters, salt: Buffer.from(salt, 'base64url'), hash: hashBytes };
}

function derive(password: string, salt: Buffer, length: number, { N, r, p }: ScryptParameters): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; Node refuses above maxmem (32 MiB by default, exactly our N·r).
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, length, options, (error, key) => (error ? reject(error) : resolve(key))));
}
