import { displayPrefix, extractKey, generateKey, hashKey } from './key-material.js';

describe('key material', () => {
  it('generates sk- keys of 43 base62 characters whose hash and prefix match', () => {
    const key = generateKey();
    expect(key.plaintext).toMatch(/^sk-[0-9A-Za-z]{43}$/);
    expect(key.hash).toBe(hashKey(key.plaintext));
    expect(key.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(key.prefix).toBe(key.plaintext.slice(0, 9));
    expect(key.hash).not.toContain(key.plaintext.slice(3));
  });

  it('never generates the same key twice', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateKey().plaintext));
    expect(keys.size).toBe(1000);
  });

  it('hashes with SHA-256', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(displayPrefix('sk-abcdefghij')).toBe('sk-abcdef');
  });

  it('reads the key from x-api-key, Authorization: Bearer and anthropic-auth-token', () => {
    expect(extractKey({ 'x-api-key': 'sk-one' })).toBe('sk-one');
    expect(extractKey({ authorization: 'Bearer sk-two' })).toBe('sk-two');
    expect(extractKey({ authorization: 'bearer   sk-two ' })).toBe('sk-two');
    expect(extractKey({ 'anthropic-auth-token': 'sk-three' })).toBe('sk-three');
  });

  it('skips empty headers and non-bearer schemes', () => {
    expect(extractKey({ 'x-api-key': '', authorization: 'Bearer sk-two' })).toBe('sk-two');
    expect(extractKey({ authorization: 'Basic dXNlcjpwYXNz' })).toBeUndefined();
    expect(extractKey({ authorization: 'Bearer ' })).toBeUndefined();
    expect(extractKey({})).toBeUndefined();
  });
});
