import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import * as oidc from 'openid-client';
import type { AdminRole, LoginResponse } from '@llmproxy/api-types';
import { AuditLog } from '@llmproxy/audit';
import type { AppConfig, OidcConfig } from '@llmproxy/config';
import { AdminAuthService, type LoginResult } from '../admin-auth.service.js';
import { roleFromClaims } from './role-claim.js';
import { ssoUsername } from './sso-username.js';

/** What the browser keeps between the redirect to the provider and its return (an HttpOnly cookie): never sent to anyone else. */
export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
}

export type CallbackResult =
  | Extract<LoginResult, { outcome: 'ok' }>
  /** Signed in at the provider, but its claim gives neither role here. */
  | { outcome: 'no-role'; username: string; displayName: string | null }
  /** The provider's answer failed a check (state, code, PKCE, ID token) or the provider refused. */
  | { outcome: 'failed'; reason: string };

/**
 * OpenID Connect sign-in (authorization code flow with PKCE, state and nonce) through openid-client.
 * The provider's metadata is discovered at the first login and kept; a failed discovery is tried
 * again at the next. Which role: the claim OIDC_ROLE_CLAIM, from the ID token or else the userinfo
 * endpoint (role-claim.ts), read at every login.
 */
@Injectable()
export class OidcLoginService {
  private readonly logger = new Logger('OIDC');
  private readonly settings: OidcConfig | undefined;
  private configuration: Promise<oidc.Configuration> | undefined;

  constructor(
    private readonly auth: AdminAuthService,
    private readonly audit: AuditLog,
    config: ConfigService<AppConfig, true>,
  ) {
    this.settings = config.get('oidc', { infer: true });
  }

  get enabled(): OidcConfig | undefined {
    return this.settings;
  }

  /** Where to send the browser, and what it must bring back. `origin`: the admin UI's origin as the browser used it. */
  async start(origin: string): Promise<{ url: URL; pending: PendingLogin }> {
    const settings = this.required();
    const configuration = await this.discover();
    const pending: PendingLogin = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      redirectUri: settings.redirectUrl ?? `${origin}/api/oidc/callback`,
    };
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: pending.redirectUri,
      scope: settings.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url, pending };
  }

  /** The provider's redirect back (`search`: its query string), checked against what the browser kept. */
  async finish(search: string, pending: PendingLogin | undefined, client: string): Promise<CallbackResult> {
    const settings = this.required();
    if (!pending) return this.fail('no sign-in was started in this browser (or it took more than 10 minutes)', client);
    let claims: Record<string, unknown>;
    try {
      const configuration = await this.discover();
      const currentUrl = new URL(pending.redirectUri);
      currentUrl.search = search;
      const tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims()!;
      claims = { ...idClaims };
      if (claims[settings.roleClaim] === undefined && configuration.serverMetadata().userinfo_endpoint) {
        const userinfo = await oidc.fetchUserInfo(configuration, tokens.access_token, idClaims.sub);
        claims = { ...userinfo, ...idClaims };
      }
    } catch (error) {
      return this.fail(describe(error), client);
    }
    const sub = claims['sub'] as string;
    const username = ssoUsername(sub);
    const displayName = firstString(claims['preferred_username'], claims['email'], claims['name']);
    const role: AdminRole | null = roleFromClaims(claims, settings.roleClaim, settings.adminValues, settings.viewerValues);
    if (role === null) {
      await this.audit.record({
        action: 'login.failure',
        actor: null,
        targetType: 'admin_session',
        targetName: username,
        changes: {
          client_address: { old: null, new: client },
          route: { old: null, new: 'GET /api/oidc/callback' },
          reason: { old: null, new: `no value of ${settings.roleClaim} is in OIDC_ADMIN_VALUES or OIDC_VIEWER_VALUES` },
          provider_name: { old: null, new: displayName },
        },
      });
      return { outcome: 'no-role', username, displayName };
    }
    return this.auth.ssoLogin({ username, role, provider: settings.providerName, displayName }, client);
  }

  /** The UI's pick-up of the session the callback opened. */
  async handoff(token: string): Promise<LoginResponse | undefined> {
    const live = await this.auth.liveSession(token);
    if (!live) return undefined;
    return { token, expires_at: live.expiresAt.toISOString(), username: live.principal.username, role: live.principal.role };
  }

  private async fail(reason: string, client: string): Promise<CallbackResult> {
    await this.audit.record({
      action: 'login.failure',
      actor: null,
      targetType: 'admin_session',
      changes: { client_address: { old: null, new: client }, route: { old: null, new: 'GET /api/oidc/callback' }, reason: { old: null, new: reason.slice(0, 200) } },
    });
    return { outcome: 'failed', reason };
  }

  private discover(): Promise<oidc.Configuration> {
    const settings = this.required();
    if (!this.configuration) {
      const issuer = new URL(settings.issuer);
      const insecure = issuer.protocol === 'http:';
      if (insecure) this.logger.warn(`OIDC_ISSUER ${issuer.origin} is plain http: acceptable on a private network or in tests only`);
      this.configuration = oidc
        .discovery(issuer, settings.clientId, settings.clientSecret, settings.clientSecret === undefined ? oidc.None() : oidc.ClientSecretBasic(settings.clientSecret), {
          ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
          timeout: 10,
        })
        .catch((error: unknown) => {
          this.configuration = undefined;
          this.logger.error(`discovery of ${issuer.origin} failed: ${describe(error)}`);
          throw error;
        });
    }
    return this.configuration;
  }

  private required(): OidcConfig {
    if (!this.settings) throw new Error('single sign-on is off (OIDC_ISSUER is not set)');
    return this.settings;
  }
}

function firstString(...values: unknown[]): string | null {
  for (const value of values) if (typeof value === 'string' && value !== '') return value.slice(0, 200);
  return null;
}

/** The library's or the provider's reason, without tokens or codes (the messages name checks and OAuth error codes). */
function describe(error: unknown): string {
  if (error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError) {
    return `the provider answered ${error.error}${error.error_description ? `: ${error.error_description}` : ''}`;
  }
  if (error instanceof Error) {
    // openid-client's ClientError says "invalid response encountered"; the check that failed is in its cause.
    const cause = error.cause instanceof Error ? error.cause.message : undefined;
    return cause && cause !== error.message ? `${error.message}: ${cause}` : error.message;
  }
  return String(error);
}
