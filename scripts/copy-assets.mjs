// Part of `npm run build`: the files tsc does not emit but the gateway serves from beside its
// compiled modules, copied into dist/ under the same paths (the Docker image runs dist/ only).
//   apps/gateway/src/proxy/key-holder-page/assets  -> the key holder's page at /me on the proxy port
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const directories = ['apps/gateway/src/proxy/key-holder-page/assets'];

for (const directory of directories) {
  const target = join(root, 'dist', directory);
  rmSync(target, { recursive: true, force: true });
  // The .d.ts beside a script is for the type checker, not for the browser.
  cpSync(join(root, directory), target, { recursive: true, filter: (source) => !source.endsWith('.d.ts') });
}
