import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Patch, Post, Req } from '@nestjs/common';
import type { AccountView } from '@llmproxy/api-types';
import type { Request } from 'express';
import { principalOf } from '../auth/admin-principal.js';
import { AdminOnly } from '../auth/roles.js';
import { AccountsService } from './accounts.service.js';
import { CreateAccountDto, UpdateAccountDto } from './account.dto.js';

/** Named admins: admins only, reads included (a viewer has no business with the list of accounts). */
@AdminOnly()
@Controller('api/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Get()
  list(): Promise<AccountView[]> {
    return this.accounts.list();
  }

  @Post()
  create(@Body() dto: CreateAccountDto): Promise<AccountView> {
    return this.accounts.create({ username: dto.username, role: dto.role, password: dto.password });
  }

  @Patch(':id')
  update(@Param('id', ParseIntPipe) id: number, @Body() dto: UpdateAccountDto, @Req() request: Request): Promise<AccountView> {
    return this.accounts.update(id, { username: dto.username, role: dto.role, password: dto.password }, principalOf(request));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id', ParseIntPipe) id: number): Promise<void> {
    await this.accounts.remove(id);
  }
}
