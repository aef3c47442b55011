import { type CanActivate, type ExecutionContext, ForbiddenException, HttpException, HttpStatus, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { auditActor } from '@llmproxy/audit';
import { IS_PUBLIC } from '../../common/public.decorator.js';
import { ACCEPTS_METRICS_TOKEN, MetricsToken } from '../metrics/metrics-token.js';
import { AdminAuthService, type AuthOutcome } from './admin-auth.service.js';
import { METRICS_SCRAPER, setPrincipal } from './admin-principal.js';
import { bearerToken } from './bearer-token.js';
import { clientAddress } from './client-address.js';
import { mayCall, ROLE_RULE, type RoleRule } from './roles.js';

/**
 * Every admin route not marked @Public() needs `Authorization: Bearer <ADMIN_PASSWORD>` or
 * `Bearer <session token>` of an unexpired session (POST /api/login). Routes marked
 * @AcceptsMetricsToken() (GET /metrics) also admit `Bearer <METRICS_TOKEN>` when it is set.
 * A wrong credential counts towards the client's throttle (see AdminAuthService): 401, and once the
 * client has ten failures in the last minute, 429 with Retry-After on every admin route. A request
 * with no credential at all guesses nothing: 401, not counted.
 *
 * Then the role (roles.ts): a viewer may read; any other method answers 403 unless the route is
 * marked @AnyRole(), and routes marked @AdminOnly() answer 403 even to its reads. The account is
 * named in the request's audit scope, so every audit row the request writes carries it.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AdminAuthService,
    private readonly metricsToken: MetricsToken,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<Request>();
    const credential = bearerToken(request);
    if (!credential) throw unauthorized();
    const acceptsMetricsToken = this.reflector.get<boolean>(ACCEPTS_METRICS_TOKEN, context.getHandler()) === true;
    const route = `${request.method} ${(request.route as { path?: string } | undefined)?.path ?? request.path}`;
    const result = await this.auth.authenticate(
      credential,
      { client: clientAddress(request), route },
      acceptsMetricsToken ? (candidate) => (this.metricsToken.matches(candidate) ? METRICS_SCRAPER : undefined) : undefined,
    );
    if (result.outcome !== 'ok') throw refusal(result, context.switchToHttp().getResponse<Response>());
    const { principal } = result;
    const rule = this.reflector.getAllAndOverride<RoleRule | undefined>(ROLE_RULE, [context.getHandler(), context.getClass()]);
    if (!mayCall(principal.role, request.method, rule)) {
      throw new ForbiddenException(`'${principal.username}' is a ${principal.role}: ${rule === 'admin-only' ? 'only an admin may see this' : 'it may read, not change anything'}`);
    }
    setPrincipal(request, principal);
    auditActor.set(principal.username);
    return true;
  }
}

/** The admin listener's answer to a refused credential, for the guard and the login route alike. */
export function refusal(result: Exclude<AuthOutcome, { outcome: 'ok' }>, response: Response, message = unauthorized().message): HttpException {
  if (result.outcome === 'invalid') return new UnauthorizedException(message);
  response.setHeader('Retry-After', String(result.retryAfterSeconds));
  return new HttpException(`too many failed logins from this address; try again in ${result.retryAfterSeconds} s`, HttpStatus.TOO_MANY_REQUESTS);
}

function unauthorized(): UnauthorizedException {
  return new UnauthorizedException('admin login required: send Authorization: Bearer <session token from POST /api/login> or Bearer <ADMIN_PASSWORD>');
}
