import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One file of the page, read once at start: its bytes, type and a validator for revalidation. */
export interface PageFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

/**
 * The page's files by the path they are served at: a fixed list, so no request path ever reaches
 * the file system. `assets/` sits beside this module, in the sources and in dist/ alike (the build
 * copies it: scripts/copy-assets.mjs).
 */
export const PAGE_FILES: Readonly<Record<string, { file: string; contentType: string }>> = {
  '/me': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/me/me.js': { file: 'me.js', contentType: 'text/javascript; charset=utf-8' },
  '/me/snippets.js': { file: 'snippets.js', contentType: 'text/javascript; charset=utf-8' },
  '/me/me.css': { file: 'me.css', contentType: 'text/css; charset=utf-8' },
};

export const ASSETS_DIRECTORY = join(dirname(fileURLToPath(import.meta.url)), 'assets');

/**
 * Scripts, styles and fetches from this origin only; no inline script or style, no frames, no
 * plugins, no form posts (the key form is handled by the script and has no named fields), and the
 * one image is the empty favicon (`data:`), so the browser asks for no /favicon.ico.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Every file, or the error naming what is missing (a build that did not copy the assets). */
export function readPageFiles(directory = ASSETS_DIRECTORY): Map<string, PageFile> {
  const files = new Map<string, PageFile>();
  for (const [path, { file, contentType }] of Object.entries(PAGE_FILES)) {
    const body = readFileSync(join(directory, file));
    files.set(path, { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return files;
}
