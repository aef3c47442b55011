import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type winston from 'winston';
import { Public } from '../../common/public.decorator.js';
import { APP_LOGGER } from '../../core/shared-resources.js';
import { ASSETS_DIRECTORY, CONTENT_SECURITY_POLICY, readPageFiles, type PageFile } from './page-files.js';

/**
 * The key holder's page, `/me` on the proxy port: paste a key, see its limits, usage, reset times and
 * client examples. The page is public; its data is not: the browser asks `GET /v1/usage` (and
 * `GET /v1/models`) with the pasted key, through the API-key guard like any client.
 *
 * Design: a small self-contained static page (assets/: one HTML file, two scripts, one stylesheet;
 * no framework, nothing from other hosts, a strict Content-Security-Policy with no inline script),
 * served from a fixed list of files read at start — not the admin UI's Angular bundle, which would put
 * the admin UI's code on the key holders' port.
 *
 * Only `/me` and the three files under it answer without a key; any other `/me/...` is a plain 404
 * here, not a route for the dialect error handling to turn into an Ollama error.
 */
@Controller()
export class KeyHolderPageController {
  private readonly files: Map<string, PageFile> | undefined;

  constructor(@Inject(APP_LOGGER) private readonly logger: winston.Logger) {
    try {
      this.files = readPageFiles();
    } catch (error) {
      this.logger.warn(`the key holder page (/me) is not served: its files are missing from ${ASSETS_DIRECTORY} (${String(error)}); build with npm run build`, {
        context: 'KeyHolderPage',
      });
    }
  }

  /** `/me/` too: Express matches it as `/me`. */
  @Public()
  @Get('me')
  page(@Req() request: Request, @Res() response: Response): void {
    this.send(request, response, '/me');
  }

  @Public()
  @Get('me/:file')
  asset(@Req() request: Request, @Res() response: Response): void {
    this.send(request, response, request.path);
  }

  private send(request: Request, response: Response, path: string): void {
    response.setHeader('x-content-type-options', 'nosniff');
    response.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    response.setHeader('referrer-policy', 'no-referrer');
    response.setHeader('x-frame-options', 'DENY');
    response.setHeader('cross-origin-opener-policy', 'same-origin');
    response.setHeader('cross-origin-resource-policy', 'same-origin');
    if (!this.files) {
      response.status(503).setHeader('cache-control', 'no-store').type('text/plain; charset=utf-8').send('The key holder page is not installed on this gateway (its files are missing).\n');
      return;
    }
    const file = this.files.get(path);
    if (!file) {
      response.status(404).setHeader('cache-control', 'no-store').type('text/plain; charset=utf-8').send('Not found.\n');
      return;
    }
    // Unhashed names: the browser revalidates every time; an unchanged file answers 304.
    response.setHeader('cache-control', 'no-cache');
    response.setHeader('etag', file.etag);
    if (request.headers['if-none-match'] === file.etag) {
      response.status(304).end();
      return;
    }
    response.status(200).setHeader('content-type', file.contentType).setHeader('content-length', file.body.length).end(file.body);
  }
}
