import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Patch, Post, Req } from '@nestjs/common';
import type { AccountView } from '@llmproxy/api-types';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiErrors } from '../../common/openapi/error-body.js';
import { principalOf } from '../auth/admin-principal.js';
import { AdminOnly } from '../auth/roles.js';
import { AccountsService } from './accounts.service.js';
import { CreateAccountDto, UpdateAccountDto } from './account.dto.js';
import { AccountViewSchema } from './account.schema.js';

/** Named admins: admins only, reads included (a viewer has no business with the list of accounts). */
@ApiTags('accounts')
@AdminOnly()
@Controller('api/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Get()
  @ApiOkResponse({ type: AccountViewSchema, isArray: true })
  list(): Promise<AccountView[]> {
    return this.accounts.list();
  }

  @Post()
  @ApiCreatedResponse({ type: AccountViewSchema })
  @ApiErrors(400, 409)
  create(@Body() dto: CreateAccountDto): Promise<AccountView> {
    return this.accounts.create({ username: dto.username, role: dto.role, password: dto.password });
  }

  @Patch(':id')
  @ApiOkResponse({ type: AccountViewSchema, description: 'A new password ends the account\'s sessions.' })
  @ApiErrors(400, 404, 409)
  update(@Param('id', ParseIntPipe) id: number, @Body() dto: UpdateAccountDto, @Req() request: Request): Promise<AccountView> {
    return this.accounts.update(id, { username: dto.username, role: dto.role, password: dto.password }, principalOf(request));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Removed, with its sessions.' })
  @ApiErrors(400, 404, 409)
  async remove(@Param('id', ParseIntPipe) id: number): Promise<void> {
    await this.accounts.remove(id);
  }
}
