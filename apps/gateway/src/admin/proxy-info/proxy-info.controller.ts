import { Controller, Get, Inject, Req } from '@nestjs/common';
import type { Request } from 'express';
import { PROXY_LISTENER, proxyInfo, type ProxyInfo, type ProxyListener } from './proxy-info.js';

@Controller('api/proxy-info')
export class ProxyInfoController {
  constructor(@Inject(PROXY_LISTENER) private readonly listener: ProxyListener) {}

  @Get()
  get(@Req() request: Request): ProxyInfo {
    return proxyInfo(this.listener, request.headers.host, request.protocol);
  }
}
