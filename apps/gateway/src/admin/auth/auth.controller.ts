import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { LoginResponse } from '@llmproxy/api-types';
import { ApiNoContentResponse, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../../common/public.decorator.js';
import { AdminAuthService } from './admin-auth.service.js';
import { refusal } from './admin.guard.js';
import { bearerToken } from './bearer-token.js';
import { clientAddress } from './client-address.js';
import { ErrorBodySchema, ApiErrors } from '../../common/openapi/error-body.js';
import { LoginDto } from './login.dto.js';
import { LoginResponseSchema } from './login.schema.js';
import { AnyRole } from './roles.js';

/** Login (as the built-in admin with ADMIN_PASSWORD, or as a named account) and logout. A failed login counts towards the same throttle as a wrong Bearer on any admin route. */
@ApiTags('auth')
@Controller('api')
export class AuthController {
  constructor(private readonly auth: AdminAuthService) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOkResponse({ type: LoginResponseSchema })
  @ApiErrors(400)
  @ApiResponse({ status: 401, description: 'Wrong username or password (counts towards the throttle)', type: ErrorBodySchema })
  @ApiResponse({ status: 429, description: 'Too many failed logins from this address; see Retry-After', type: ErrorBodySchema, headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds' } } })
  async login(@Body() dto: LoginDto, @Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<LoginResponse> {
    const result = await this.auth.login(dto.username, dto.password, clientAddress(request));
    if (result.outcome !== 'ok') throw refusal(result, response, dto.username === undefined ? 'wrong password' : 'wrong username or password');
    return { token: result.token, expires_at: result.expiresAt.toISOString(), username: result.principal.username, role: result.principal.role };
  }

  @AnyRole()
  @Post('logout')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'The session token is revoked (sending ADMIN_PASSWORD revokes nothing).' })
  async logout(@Req() request: Request): Promise<void> {
    await this.auth.logout(bearerToken(request)!, clientAddress(request));
  }
}
