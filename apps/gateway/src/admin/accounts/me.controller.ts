import { BadRequestException, Body, Controller, Get, HttpCode, Put, Req, Res } from '@nestjs/common';
import type { MeView } from '@llmproxy/api-types';
import type { Request, Response } from 'express';
import { AdminAuthService } from '../auth/admin-auth.service.js';
import { refusal } from '../auth/admin.guard.js';
import { principalOf } from '../auth/admin-principal.js';
import { clientAddress } from '../auth/client-address.js';
import { AnyRole } from '../auth/roles.js';
import { isSsoUsername } from '../auth/oidc/sso-username.js';
import { ChangePasswordDto } from './account.dto.js';

/** The signed-in account: who it is (the UI hides what its role may not do), and its own password. */
@Controller('api/me')
export class MeController {
  constructor(private readonly auth: AdminAuthService) {}

  @Get()
  me(@Req() request: Request): MeView {
    const principal = principalOf(request);
    return { username: principal.username, role: principal.role, built_in: principal.accountId === null, sso: principal.accountId !== null && isSsoUsername(principal.username) };
  }

  /** Needs the current password (a wrong one counts towards the login throttle); ends the account's other sessions. */
  @AnyRole()
  @Put('password')
  @HttpCode(204)
  async changePassword(@Body() dto: ChangePasswordDto, @Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<void> {
    const result = await this.auth.changeOwnPassword(principalOf(request), dto.current_password, dto.new_password, clientAddress(request));
    // 400, not 401: the session is fine, only the form is wrong (a UI signs out on 401).
    if (result.outcome === 'invalid') throw new BadRequestException('wrong current password');
    if (result.outcome !== 'ok') throw refusal(result, response);
  }
}
