import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** Who may sign in at the test provider, and the groups its `groups` claim names. */
export const OIDC_USERS: Record<string, { groups: string[]; name: string }> = {
  alice: { groups: ['staff', 'llm-admins'], name: 'Alice Admin' },
  vera: { groups: ['llm-viewers'], name: 'Vera Viewer' },
  nora: { groups: ['staff'], name: 'Nora Nobody' },
};

export const OIDC_CLIENT = { client_id: 'llmproxy-admin', client_secret: 'test-client-secret-0123456789' };

export interface TestProvider {
  issuer: string;
  /** Registers the gateway's callback (known only once the gateway listens). */
  setRedirectUris(uris: string[]): void;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (panva's oidc-provider) on 127.0.0.1: discovery, JWKS, authorization with
 * its own login and consent pages (devInteractions: any password, the login names the account),
 * token and userinfo endpoints; PKCE required. The `groups` claim comes with the `groups` scope,
 * and — as oidc-provider conforms to the specification — only from the userinfo endpoint, not in the
 * ID token.
 */
export async function startTestProvider(): Promise<TestProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let handler: ReturnType<Provider['callback']> | undefined;
  let redirectUris: string[] = ['http://127.0.0.1:1/unused'];
  const signingKey = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'test', alg: 'ES256', use: 'sig' };
  const build = () =>
    new Provider(issuer, {
      clients: [{ ...OIDC_CLIENT, redirect_uris: redirectUris, grant_types: ['authorization_code'], response_types: ['code'] }],
      scopes: ['openid', 'profile', 'groups'],
      claims: { openid: ['sub'], profile: ['name', 'preferred_username'], groups: ['groups'] },
      async findAccount(_ctx, id) {
        const user = OIDC_USERS[id];
        if (!user) return undefined;
        return { accountId: id, claims: async () => ({ sub: id, preferred_username: id, name: user.name, groups: user.groups }) };
      },
      pkce: { required: () => true },
      features: { devInteractions: { enabled: true } },
      cookies: { keys: ['test-provider-cookie-key-0123456789'] },
      jwks: { keys: [signingKey] },
      clientDefaults: { id_token_signed_response_alg: 'ES256' },
      ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    });
  server.on('request', (request, response) => {
    handler ??= build().callback();
    void handler(request, response);
  });
  return {
    issuer,
    setRedirectUris(uris) {
      redirectUris = uris;
      handler = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
