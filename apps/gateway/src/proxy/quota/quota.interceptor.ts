import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, finalize } from 'rxjs';
import { dialectForPath } from '@llmproxy/dialects';
import { statusOf } from '../errors/error-status.js';
import type { ProxyRequest } from '../proxy-request.js';
import { INFERENCE, type InferenceRoute } from './inference.decorator.js';
import { UsageSettler } from './usage-settler.js';

/**
 * The quota's frame around every inference route (DESIGN.md §2, §4): marks the request as inference
 * (the forwarder then admits it through the InferenceGate, once the dialect has validated it,
 * resolved the model and checked the allow-list) and settles it exactly once when the handler is
 * done — whether it finished, failed, was refused or the client went away. A request refused before
 * admission is settled as refused: no reservation, no charge, logged with the status the client got.
 */
@Injectable()
export class QuotaInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly settler: UsageSettler,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler) {
    const route = this.reflector.get<InferenceRoute | undefined>(INFERENCE, context.getHandler());
    if (!route) return next.handle();
    const request = context.switchToHttp().getRequest<ProxyRequest>();
    request.inference = route;
    return next.handle().pipe(
      catchError((error: unknown) => {
        request.refusedStatus = statusOf(error);
        throw error;
      }),
      finalize(() => this.settler.settle(request, dialectForPath(request.path))),
    );
  }
}
