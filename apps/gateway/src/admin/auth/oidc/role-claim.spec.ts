import { roleFromClaims } from './role-claim.js';
import { ssoUsername } from './sso-username.js';

describe('roleFromClaims', () => {
  const admins = ['llm-admins'];
  const viewers = ['llm-viewers', 'auditors'];

  it('reads a list claim; admin wins when both match', () => {
    expect(roleFromClaims({ groups: ['staff', 'llm-admins'] }, 'groups', admins, viewers)).toBe('admin');
    expect(roleFromClaims({ groups: ['auditors'] }, 'groups', admins, viewers)).toBe('viewer');
    expect(roleFromClaims({ groups: ['auditors', 'llm-admins'] }, 'groups', admins, viewers)).toBe('admin');
  });

  it('refuses a user matching neither, a missing claim and values of the wrong type', () => {
    expect(roleFromClaims({ groups: ['staff'] }, 'groups', admins, viewers)).toBeNull();
    expect(roleFromClaims({}, 'groups', admins, viewers)).toBeNull();
    expect(roleFromClaims({ groups: [{ name: 'llm-admins' }, 42] }, 'groups', admins, viewers)).toBeNull();
  });

  it('reads a single string exactly (no partial or case-insensitive match) and nested claims by a dotted path', () => {
    expect(roleFromClaims({ role: 'llm-admins' }, 'role', admins, viewers)).toBe('admin');
    expect(roleFromClaims({ role: 'LLM-ADMINS' }, 'role', admins, viewers)).toBeNull();
    expect(roleFromClaims({ role: 'llm-admins-old' }, 'role', admins, viewers)).toBeNull();
    expect(roleFromClaims({ realm_access: { roles: ['auditors'] } }, 'realm_access.roles', admins, viewers)).toBe('viewer');
    expect(roleFromClaims({ 'https://example.com/roles': ['llm-admins'] }, 'https://example.com/roles', admins, viewers)).toBe('admin');
  });
});

describe('ssoUsername', () => {
  it('is oidc:<sub>, which no local account name can be (they cannot contain ":")', () => {
    expect(ssoUsername('248289761001')).toBe('oidc:248289761001');
    expect(ssoUsername('Alice')).toBe('oidc:Alice');
  });

  it('names a sub too long or not printable ASCII by its hash, stably, within the 64-character column', () => {
    const long = 'x'.repeat(200);
    expect(ssoUsername(long)).toBe(ssoUsername(long));
    expect(ssoUsername(long)).toMatch(/^oidc:#[A-Za-z0-9_-]{43}$/);
    expect(ssoUsername('jürgen')).toMatch(/^oidc:#/);
    expect(ssoUsername('a b')).not.toBe(ssoUsername('a_b'));
  });
});
