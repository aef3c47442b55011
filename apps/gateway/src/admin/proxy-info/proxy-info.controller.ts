import { Controller, Get, Inject, Req } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ProxyInfoSchema } from './proxy-info.schema.js';
import { PROXY_LISTENER, proxyInfo, type ProxyInfo, type ProxyListener } from './proxy-info.js';

@ApiTags('settings')
@Controller('api/proxy-info')
export class ProxyInfoController {
  constructor(@Inject(PROXY_LISTENER) private readonly listener: ProxyListener) {}

  @Get()
  @ApiOkResponse({ type: ProxyInfoSchema })
  get(@Req() request: Request): ProxyInfo {
    return proxyInfo(this.listener, request.headers.host, request.protocol);
  }
}
