import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { LoginResponse } from '@llmproxy/api-types';
import type { Request, Response } from 'express';
import { Public } from '../../common/public.decorator.js';
import { AdminAuthService } from './admin-auth.service.js';
import { refusal } from './admin.guard.js';
import { bearerToken } from './bearer-token.js';
import { clientAddress } from './client-address.js';
import { LoginDto } from './login.dto.js';
import { AnyRole } from './roles.js';

/** Login (as the built-in admin with ADMIN_PASSWORD, or as a named account) and logout. A failed login counts towards the same throttle as a wrong Bearer on any admin route. */
@Controller('api')
export class AuthController {
  constructor(private readonly auth: AdminAuthService) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  async login(@Body() dto: LoginDto, @Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<LoginResponse> {
    const result = await this.auth.login(dto.username, dto.password, clientAddress(request));
    if (result.outcome !== 'ok') throw refusal(result, response, dto.username === undefined ? 'wrong password' : 'wrong username or password');
    return { token: result.token, expires_at: result.expiresAt.toISOString(), username: result.principal.username, role: result.principal.role };
  }

  @AnyRole()
  @Post('logout')
  @HttpCode(204)
  async logout(@Req() request: Request): Promise<void> {
    await this.auth.logout(bearerToken(request)!, clientAddress(request));
  }
}
