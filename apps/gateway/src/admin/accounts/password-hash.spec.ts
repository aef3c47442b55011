import { hashPassword, SCRYPT_PARAMETERS, verifyPassword } from './password-hash.js';

describe('password hashes', () => {
  it('verifies the right password and refuses others, with a salt of its own per hash', async () => {
    const first = await hashPassword('correct horse battery staple');
    const second = await hashPassword('correct horse battery staple');
    expect(first).not.toBe(second);
    expect(first).not.toContain('correct horse');
    expect(await verifyPassword('correct horse battery staple', first)).toBe(true);
    expect(await verifyPassword('correct horse battery staple', second)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', first)).toBe(false);
    expect(await verifyPassword('', first)).toBe(false);
  });

  it('stores its parameters with the hash and verifies hashes made with other ones', async () => {
    const stored = await hashPassword('pw', { N: 2 ** 10, r: 8, p: 1 });
    expect(stored).toMatch(/^scrypt\$1024\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(await verifyPassword('pw', stored)).toBe(true);
    expect((await hashPassword('pw')).split('$').slice(1, 4)).toEqual([String(SCRYPT_PARAMETERS.N), String(SCRYPT_PARAMETERS.r), String(SCRYPT_PARAMETERS.p)]);
  });

  it('treats a malformed or absurd stored value as a mismatch, never as a match or a crash', async () => {
    for (const stored of ['', 'plain', 'scrypt$1024$8$1$c2FsdA', 'bcrypt$1024$8$1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA', 'scrypt$1000$8$1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA', `scrypt$${2 ** 30}$8$1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA`, 'scrypt$1024$8$1$c2FsdA$c2hvcnQ']) {
      expect(await verifyPassword('pw', stored)).toBe(false);
    }
  });

  it('compares passwords as Unicode text, whatever their normal form', async () => {
    const stored = await hashPassword('Caf\u00e9 au lait');
    expect(await verifyPassword('Cafe\u0301 au lait', stored)).toBe(true);
  });
});
