import type { ProxyInfo } from '@llmproxy/api-types';

/** Where the proxy listener actually listens (PROXY_HOST, and the bound port: PROXY_PORT=0 picks one). */
export interface ProxyListener {
  host: string;
  port: number;
}

/** Injection token of the ProxyListener, given to the admin app by the composition root. */
export const PROXY_LISTENER = Symbol('PROXY_LISTENER');

export type { ProxyInfo };

/**
 * The URLs clients should use. A proxy listening on every interface (0.0.0.0, ::) has no one
 * address to give; the host name the admin used to reach this listener (its `Host` header) is the
 * best guess for a machine that also serves the proxy.
 */
export function proxyInfo(listener: ProxyListener, hostHeader: string | undefined, protocol = 'http'): ProxyInfo {
  const requestHost = parseHost(hostHeader);
  const wildcard = listener.host === '0.0.0.0' || listener.host === '::' || listener.host === '[::]';
  const host = wildcard ? (requestHost?.hostname ?? '127.0.0.1') : bracketed(listener.host);
  const proxyUrl = `http://${host}:${listener.port}`;
  return {
    proxy_url: proxyUrl,
    ollama_base_url: proxyUrl,
    openai_base_url: `${proxyUrl}/v1`,
    anthropic_base_url: proxyUrl,
    admin_url: requestHost ? `${protocol}://${requestHost.host}` : `${protocol}://127.0.0.1`,
  };
}

function parseHost(header: string | undefined): { host: string; hostname: string } | undefined {
  if (!header) return undefined;
  try {
    const url = new URL(`http://${header}`);
    // Anything beyond host[:port] (a path, credentials) means the header is not a plain Host.
    if (url.host !== header.toLowerCase() || url.username || url.pathname !== '/') return undefined;
    return { host: url.host, hostname: url.hostname };
  } catch {
    return undefined;
  }
}

function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
