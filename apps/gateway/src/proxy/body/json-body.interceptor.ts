import {
  BadRequestException,
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  PayloadTooLargeException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import getRawBody from 'raw-body';
import type { AppConfig } from '@llmproxy/config';
import type { ProxyRequest } from '../proxy-request.js';
import { READS_JSON_BODY } from './json-body.decorator.js';

/**
 * Reads and parses the body of a route marked @ReadsJsonBody(), once, after the key was checked, so an anonymous client cannot make
 * the gateway read 20 MiB. Any content type is read as JSON, as Ollama itself does (curl -d sends
 * form encoding). Nothing past the size limit is read: a larger Content-Length is refused unread.
 */
@Injectable()
export class JsonBodyInterceptor implements NestInterceptor {
  private readonly limit: number;

  constructor(
    private readonly reflector: Reflector,
    config: ConfigService<AppConfig, true>,
  ) {
    this.limit = config.get('bodyLimitBytes', { infer: true });
  }

  async intercept(context: ExecutionContext, next: CallHandler) {
    const request = context.switchToHttp().getRequest<ProxyRequest>();
    if (this.reflector.get<boolean>(READS_JSON_BODY, context.getHandler()) && request.json === undefined) {
      request.json = await this.read(request);
    }
    return next.handle();
  }

  private async read(request: ProxyRequest): Promise<Record<string, unknown>> {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.limit) throw this.tooLarge();
    let text: string;
    try {
      text = await getRawBody(request, { limit: this.limit, encoding: 'utf8' });
    } catch (error) {
      if ((error as { type?: string }).type === 'entity.too.large') throw this.tooLarge();
      throw new BadRequestException('could not read the request body', { cause: error });
    }
    if (text.trim() === '') throw new BadRequestException('request body is empty; expected a JSON object');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new BadRequestException('request body is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new BadRequestException('request body must be a JSON object');
    }
    return value as Record<string, unknown>;
  }

  private tooLarge() {
    return new PayloadTooLargeException(`request body exceeds the limit of ${Math.round(this.limit / 1024 / 1024)} MiB`);
  }
}
