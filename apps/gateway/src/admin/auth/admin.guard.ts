import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AppConfig } from '@llmproxy/config';
import { IS_PUBLIC } from '../../common/public.decorator.js';

/**
 * Every admin route needs `Authorization: Bearer <ADMIN_PASSWORD>`. Both sides are hashed first so
 * the comparison is constant-time whatever the lengths (timingSafeEqual needs equal lengths).
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(
    private readonly reflector: Reflector,
    config: ConfigService<AppConfig, true>,
  ) {
    this.expected = digest(config.get('adminPassword', { infer: true }));
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<Request>();
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), this.expected)) {
      throw new UnauthorizedException('admin password required: send Authorization: Bearer <ADMIN_PASSWORD>');
    }
    return true;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
