import { Body, Controller, HttpCode, HttpException, HttpStatus, Post, Req, Res, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Public } from '../../common/public.decorator.js';
import { AdminAuthService } from './admin-auth.service.js';
import { bearerToken } from './bearer-token.js';
import { LoginDto } from './login.dto.js';

/**
 * The client address is `request.ip`: the TCP peer, or with TRUST_PROXY (Express's `trust proxy`)
 * the address the trusted reverse proxies name in X-Forwarded-For — without it, every login behind a
 * reverse proxy shares the proxy's address, and so its throttle.
 */
@Controller('api')
export class AuthController {
  constructor(private readonly auth: AdminAuthService) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  async login(@Body() dto: LoginDto, @Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<{ token: string; expires_at: string }> {
    const result = await this.auth.login(dto.password, clientAddress(request));
    if (result.outcome === 'throttled') {
      response.setHeader('Retry-After', String(result.retryAfterSeconds));
      throw new HttpException(`too many failed logins from this address; try again in ${result.retryAfterSeconds} s`, HttpStatus.TOO_MANY_REQUESTS);
    }
    if (result.outcome === 'invalid') throw new UnauthorizedException('wrong password');
    return { token: result.token, expires_at: result.expiresAt.toISOString() };
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@Req() request: Request): Promise<void> {
    await this.auth.logout(bearerToken(request)!, clientAddress(request));
  }
}

function clientAddress(request: Request): string {
  return request.ip ?? request.socket.remoteAddress ?? 'unknown';
}
