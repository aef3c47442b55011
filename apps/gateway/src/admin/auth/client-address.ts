import type { Request } from 'express';

/**
 * `request.ip`: the TCP peer, or with TRUST_PROXY (Express's `trust proxy`) the address the trusted
 * reverse proxies name in X-Forwarded-For — without it, every client behind a reverse proxy shares
 * the proxy's address, and so its throttle.
 */
export function clientAddress(request: Request): string {
  return request.ip ?? request.socket.remoteAddress ?? 'unknown';
}
