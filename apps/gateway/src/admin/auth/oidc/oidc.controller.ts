import { Controller, Get, HttpCode, NotFoundException, Post, Query, Req, Res, UnauthorizedException } from '@nestjs/common';
import type { AuthMethods, LoginResponse } from '@llmproxy/api-types';
import type { Request, Response } from 'express';
import { Public } from '../../../common/public.decorator.js';
import { clientAddress } from '../client-address.js';
import { OidcLoginService, type PendingLogin } from './oidc-login.service.js';

/** Holds state, nonce and PKCE verifier from the redirect to the provider until its return. */
const PENDING_COOKIE = 'llmproxy_oidc';
/** Hands the new session token to the UI once (POST /api/oidc/session), so it never travels in a URL. */
const HANDOFF_COOKIE = 'llmproxy_sso';
const PENDING_SECONDS = 600;
const HANDOFF_SECONDS = 60;

/**
 * Single sign-on for the admin UI (OpenID Connect; off unless OIDC_ISSUER is set):
 *
 * 1. GET /api/auth-methods (public): what the login page offers.
 * 2. GET /api/oidc/login: redirects to the provider, with state, nonce and a PKCE challenge; their
 *    secrets stay in an HttpOnly cookie of this browser (SameSite=Lax: it comes back with the
 *    provider's top-level redirect, not with a cross-site request).
 * 3. GET /api/oidc/callback: the provider's answer, checked by openid-client (state, PKCE, the ID
 *    token's signature, issuer, audience, nonce); the role from the claim; a session of the same kind
 *    as POST /api/login's, handed to the UI through a short-lived HttpOnly cookie, then a redirect to
 *    /login?sso=1, where the UI fetches it with POST /api/oidc/session. A user whose claim gives no
 *    role, or an answer that fails a check, gets a page saying so and no session.
 */
@Controller('api')
export class OidcController {
  constructor(private readonly oidc: OidcLoginService) {}

  @Public()
  @Get('auth-methods')
  methods(): AuthMethods {
    const settings = this.oidc.enabled;
    return {
      password: !settings?.only,
      sso: settings ? { name: settings.providerName, login_url: '/api/oidc/login' } : null,
    };
  }

  @Public()
  @Get('oidc/login')
  async login(@Req() request: Request, @Res() response: Response): Promise<void> {
    this.required();
    let started: Awaited<ReturnType<OidcLoginService['start']>>;
    try {
      // protocol and host as the browser used them (with TRUST_PROXY, as the reverse proxy forwarded them).
      started = await this.oidc.start(`${request.protocol}://${request.host}`);
    } catch {
      page(response, 502, 'Single sign-on is unavailable', 'The identity provider could not be reached or its configuration could not be read. Try again later, or log in with a password.');
      return;
    }
    setCookie(response, PENDING_COOKIE, Buffer.from(JSON.stringify(started.pending)).toString('base64url'), {
      path: '/api/oidc',
      maxAge: PENDING_SECONDS,
      sameSite: 'Lax',
      secure: started.pending.redirectUri.startsWith('https:'),
    });
    response.redirect(303, started.url.href);
  }

  @Public()
  @Get('oidc/callback')
  async callback(@Req() request: Request, @Res() response: Response, @Query('error') error?: string): Promise<void> {
    this.required();
    const pending = readPending(cookie(request, PENDING_COOKIE));
    clearCookie(response, PENDING_COOKIE, '/api/oidc');
    const search = new URL(request.originalUrl, 'http://callback').search;
    const result = await this.oidc.finish(search, pending, clientAddress(request));
    if (result.outcome === 'ok') {
      setCookie(response, HANDOFF_COOKIE, result.token, { path: '/api/oidc/session', maxAge: HANDOFF_SECONDS, sameSite: 'Strict', secure: pending!.redirectUri.startsWith('https:') });
      response.redirect(303, '/login?sso=1');
      return;
    }
    if (result.outcome === 'no-role') {
      const who = result.displayName ? `${result.displayName} (${result.username})` : result.username;
      page(response, 403, 'No access to this admin UI', `You signed in at the identity provider as ${who}, but that account is in none of the groups (or roles) this gateway lets in, so no session was opened. Ask an administrator of the gateway to add you to one.`);
      return;
    }
    const reason = error ? 'The identity provider refused the sign-in.' : 'The sign-in could not be completed: the answer from the identity provider failed a check (or was used already).';
    page(response, 400, 'Sign-in failed', `${reason} Start again from the login page.`);
  }

  /** The session the callback opened, once; then the cookie is gone. */
  @Public()
  @Post('oidc/session')
  @HttpCode(200)
  async session(@Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<LoginResponse> {
    this.required();
    const token = cookie(request, HANDOFF_COOKIE);
    clearCookie(response, HANDOFF_COOKIE, '/api/oidc/session');
    const session = token ? await this.oidc.handoff(token) : undefined;
    if (!session) throw new UnauthorizedException('no single sign-on session to pick up: sign in again');
    return session;
  }

  private required(): void {
    if (!this.oidc.enabled) throw new NotFoundException('single sign-on is off (OIDC_ISSUER is not set)');
  }
}

interface CookieOptions {
  path: string;
  maxAge: number;
  sameSite: 'Lax' | 'Strict';
  secure: boolean;
}

function setCookie(response: Response, name: string, value: string, options: CookieOptions): void {
  const attributes = [`${name}=${value}`, `Path=${options.path}`, `Max-Age=${options.maxAge}`, 'HttpOnly', `SameSite=${options.sameSite}`];
  if (options.secure) attributes.push('Secure');
  response.append('Set-Cookie', attributes.join('; '));
}

function clearCookie(response: Response, name: string, path: string): void {
  response.append('Set-Cookie', `${name}=; Path=${path}; Max-Age=0; HttpOnly; SameSite=Lax`);
}

function cookie(request: Request, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

function readPending(raw: string | undefined): PendingLogin | undefined {
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<PendingLogin>;
    const fields = [parsed.state, parsed.nonce, parsed.codeVerifier, parsed.redirectUri];
    return fields.every((field) => typeof field === 'string' && field !== '') ? (parsed as PendingLogin) : undefined;
  } catch {
    return undefined;
  }
}

/** A small page of its own (the browser is mid-redirect, not in the app): what happened, and a way back. */
function page(response: Response, status: number, title: string, text: string): void {
  response
    .status(status)
    .type('html')
    .set('Cache-Control', 'no-store')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>` +
        `<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto; padding: 0 1em"><h1 data-testid="sso-title">${escapeHtml(title)}</h1><p data-testid="sso-message">${escapeHtml(text)}</p><p><a href="/login">Back to the login page</a></p></body></html>`,
    );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
