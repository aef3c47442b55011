import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the built Angular admin UI is: `angular-admin/dist/admin/browser` in the repository (the
 * folder holding `nest-cli.json`, found upwards from this file, so it works from `dist/` and from the
 * sources alike). Undefined when the UI has not been built.
 */
export function adminUiDirectory(from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nest-cli.json'))) {
      const ui = join(dir, 'angular-admin', 'dist', 'admin', 'browser');
      return existsSync(join(ui, 'index.html')) ? ui : undefined;
    }
    if (dirname(dir) === dir) return undefined;
  }
}
