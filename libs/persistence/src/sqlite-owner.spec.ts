import { ownerIsGone, OWNER_EXPIRY_MS, type Judge, type SqliteOwner } from './sqlite-owner.js';

const now = new Date('2026-11-26T10:00:00.000Z');
const here: Judge = { pid: 100, scope: 'web-1 pid:[4026531836] boot-a', liveOwnerIds: new Set(['mine-live']), now, isAlive: (pid) => pid === 200 };
const owner = (fields: Partial<SqliteOwner>): SqliteOwner => ({
  ownerId: 'other',
  pid: 200,
  host: 'web-1',
  scope: here.scope,
  startedAt: new Date(now.getTime() - 3_600_000),
  heartbeatAt: now,
  ...fields,
});
const ago = (ms: number) => new Date(now.getTime() - ms);

describe('ownerIsGone', () => {
  it('same host, namespace and boot: the owner is gone exactly when its pid is', () => {
    expect(ownerIsGone(owner({ pid: 200 }), here)).toBe(false);
    expect(ownerIsGone(owner({ pid: 300 }), here)).toBe(true); // kill -9: no need to wait for the heartbeat
  });

  it('our own pid under a lease none of our gateways holds: a previous life of this pid (a container restarted in place)', () => {
    expect(ownerIsGone(owner({ pid: 100 }), here)).toBe(true);
  });

  it('a lease another gateway of this very process holds is never taken (two in one test process)', () => {
    expect(ownerIsGone(owner({ ownerId: 'mine-live', pid: 100, heartbeatAt: ago(10 * OWNER_EXPIRY_MS) }), here)).toBe(false);
  });

  it('elsewhere (another host, PID namespace or boot) a pid means nothing: only an expired heartbeat frees the file', () => {
    for (const scope of ['web-2 pid:[4026531836] boot-a', 'web-1 pid:[4026532001] boot-a', 'web-1 pid:[4026531836] boot-b']) {
      expect(ownerIsGone(owner({ scope, pid: 300, heartbeatAt: ago(1_000) }), here)).toBe(false);
      expect(ownerIsGone(owner({ scope, pid: 300, heartbeatAt: ago(OWNER_EXPIRY_MS) }), here)).toBe(false);
      expect(ownerIsGone(owner({ scope, pid: 300, heartbeatAt: ago(OWNER_EXPIRY_MS + 1) }), here)).toBe(true);
    }
  });
});
