import http from 'node:http';
import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express } from 'express';

/**
 * Nest's Express adapter, with one change on the hot path: node:http creates each request and
 * response directly as Express's objects, instead of Express re-parenting them on every request with
 * `Object.setPrototypeOf` (its `app.handle` still calls it, with the prototype they already have,
 * which V8 skips). Re-parenting turns node's own request/response objects slow for the rest of their
 * life: measured on this machine, Express + undici forwarding a chat request took 108 µs of CPU per
 * request with it and 54 µs without (a bare node:http proxy: 40 µs). See bench/README.md.
 */
export class GatewayExpressAdapter extends ExpressAdapter {
  override initHttpServer(options: NestApplicationOptions): void {
    // HTTPS and the adapter's own connection tracking are not used by the gateway: Nest's server then.
    if (options?.httpsOptions || options?.forceCloseConnections || options?.return503OnClosing) {
      super.initHttpServer(options);
      return;
    }
    const app = this.getInstance<Express>();
    this.httpServer = http.createServer({ IncomingMessage: expressClass(http.IncomingMessage, app.request), ServerResponse: expressClass(http.ServerResponse, app.response) }, app);
  }
}

/**
 * A constructor node:http can call with `new` that initialises a node object and gives it Express's
 * prototype of this app (which itself inherits from the node class, so nothing of node's is lost).
 */
function expressClass<T extends typeof http.IncomingMessage | typeof http.ServerResponse>(base: T, prototype: object): T {
  function ExpressObject(this: object, ...args: unknown[]) {
    (base as unknown as (...a: unknown[]) => void).apply(this, args);
  }
  ExpressObject.prototype = prototype;
  return ExpressObject as unknown as T;
}
