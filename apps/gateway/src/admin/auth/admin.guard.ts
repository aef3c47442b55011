import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { IS_PUBLIC } from '../../common/public.decorator.js';
import { ACCEPTS_METRICS_TOKEN, MetricsToken } from '../metrics/metrics-token.js';
import { AdminAuthService } from './admin-auth.service.js';
import { bearerToken } from './bearer-token.js';

/**
 * Every admin route not marked @Public() needs `Authorization: Bearer <ADMIN_PASSWORD>` or
 * `Bearer <session token>` of an unexpired session (POST /api/login). Routes marked
 * @AcceptsMetricsToken() (GET /metrics) also admit `Bearer <METRICS_TOKEN>` when it is set.
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
    const credential = bearerToken(context.switchToHttp().getRequest<Request>());
    if (credential && this.reflector.get<boolean>(ACCEPTS_METRICS_TOKEN, context.getHandler()) && this.metricsToken.matches(credential)) return true;
    if (!credential || !(await this.auth.authenticate(credential))) {
      throw new UnauthorizedException('admin login required: send Authorization: Bearer <session token from POST /api/login> or Bearer <ADMIN_PASSWORD>');
    }
    return true;
  }
}
