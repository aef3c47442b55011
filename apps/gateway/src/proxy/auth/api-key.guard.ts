import { type CanActivate, type ExecutionContext, Injectable, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyLookup, extractKey, type KeyCheck } from '@llmproxy/keys';
import type { ProxyRequest } from '../proxy-request.js';
import { IS_PUBLIC } from '../../common/public.decorator.js';

/**
 * Every proxy route needs a valid, active, unexpired key unless marked @Public(). Missing, unknown,
 * deactivated and expired keys all get 401 (the status clients treat as "fix your key"), each with
 * its own message. A database that cannot be read fails closed with 503.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly lookup: ApiKeyLookup,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<ProxyRequest>();
    let check: KeyCheck;
    try {
      check = await this.lookup.check(extractKey(request.headers));
    } catch (error) {
      throw new ServiceUnavailableException('the gateway cannot reach its database; try again shortly', { cause: error });
    }
    if (!check.ok) throw new UnauthorizedException(check.message);
    request.apiKey = check.key;
    return true;
  }
}
