import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ScopedStorage } from './scoped-storage.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('ScopedStorage', () => {
  it('gives each of two overlapping scopes its own store across awaits, also after the other one closed', async () => {
    const storage = new ScopedStorage<string>();
    const seen: string[] = [];
    let firstDone!: Promise<unknown>;
    const closeFirst = storage.enter('first', () => {
      firstDone = tick().then(() => seen.push(`first: ${storage.getStore()}`));
    });
    await storage.run('second', async () => {
      await firstDone;
      closeFirst();
      await tick();
      seen.push(`second: ${storage.getStore()}`);
    });
    expect(seen).toEqual(['first: first', 'second: second']);
    expect(storage.active).toBe(false);
    expect(storage.getStore()).toBeUndefined();
  });

  it('closes a scope once however often its close is called', async () => {
    const storage = new ScopedStorage<number>();
    const close = storage.enter(1, () => undefined);
    const other = storage.enter(2, () => undefined);
    close();
    close();
    expect(storage.active).toBe(true);
    other();
    expect(storage.active).toBe(false);
  });

  it('ends with no store and with scopes that open again afterwards', async () => {
    const storage = new ScopedStorage<string>();
    await storage.run('a', async () => {
      await tick();
      expect(storage.getStore()).toBe('a');
    });
    expect(storage.getStore()).toBeUndefined();
    await storage.run('b', async () => {
      await tick();
      expect(storage.getStore()).toBe('b');
    });
  });

  it('leaves no process-wide promise hook on once its last scope has closed (a process of its own: Jest keeps hooks on)', () => {
    // From dist/ (scripts/test.sh builds it first), in a plain Node: after an await, a continuation has
    // an async id of its own only while Node tracks promises.
    const script = `
      import { executionAsyncId } from 'node:async_hooks';
      import { ScopedStorage } from ${JSON.stringify(pathToFileURL(join(process.cwd(), 'dist/libs/persistence/src/scoped-storage.js')).href)};
      const tracked = async () => { await null; return executionAsyncId() !== 0; };
      const storage = new ScopedStorage();
      const seen = { before: await tracked(), inRun: await storage.run('a', tracked), afterRun: await tracked() };
      const close = storage.enter('request', () => undefined);
      seen.whileEntered = await tracked();
      close();
      seen.afterClose = await tracked();
      console.log(JSON.stringify(seen));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ before: false, inRun: true, afterRun: false, whileEntered: true, afterClose: false });
  });
});
