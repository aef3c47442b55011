import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import type { Response } from 'express';
import type winston from 'winston';
import { DialectError, dialectForPath, errorBody, UNKNOWN_ROUTE, type Dialect, type ErrorDetails } from '@llmproxy/dialects';
import { UpstreamError } from '@llmproxy/ollama';
import { APP_LOGGER } from '../../core/shared-resources.js';
import type { ProxyRequest } from '../proxy-request.js';
import { statusOf } from './error-status.js';

/**
 * The proxy listener's one exception filter: every error becomes the caller's dialect's error body
 * (DESIGN.md §5). Unknown errors are a generic 500 naming the request id; the stack goes to the log,
 * never to the client.
 */
@Catch()
export class ProxyExceptionFilter implements ExceptionFilter {
  constructor(@Inject(APP_LOGGER) private readonly logger: winston.Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<ProxyRequest>();
    const response = http.getResponse<Response>();
    const { status, message, details } = this.describe(exception, request);
    if (response.headersSent) {
      // A stream already started: the controller reports errors in-band; all that is left is to end it.
      if (!response.writableEnded) response.end();
      return;
    }
    const dialect = dialectOf(request);
    response.status(status).setHeader('x-request-id', request.requestId);
    // The Anthropic SDK reads `request-id` into its errors' requestID.
    if (dialect === 'anthropic') response.setHeader('request-id', request.requestId);
    response.json(errorBody(dialect, status, message, { ...details, requestId: request.requestId }));
  }

  private describe(exception: unknown, request: ProxyRequest): { status: number; message: string; details?: ErrorDetails } {
    const status = statusOf(exception);
    // A translator refused the client's request: its status and message, and the field at fault.
    if (exception instanceof DialectError) return { status, message: exception.message, details: { param: exception.param, code: exception.code } };
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      const raw = typeof body === 'string' ? body : (body as { message?: unknown }).message;
      const message = Array.isArray(raw) ? raw.join('; ') : String(raw ?? exception.message);
      if (status === 404 && /^Cannot [A-Z]+ /.test(message)) {
        return { status, message: `no route for ${request.method} ${request.path}`, details: UNKNOWN_ROUTE };
      }
      return { status, message };
    }
    if (exception instanceof UpstreamError) return { status, message: exception.message };
    this.logger.error('unhandled error on the proxy listener', {
      context: 'ProxyExceptionFilter',
      requestId: request.requestId,
      route: request.path,
      stack: exception instanceof Error ? exception.stack : String(exception),
    });
    return { status, message: `internal error (request id ${request.requestId})` };
  }
}

/**
 * The dialect of an error body: by path, except that GET /v1/models* is Anthropic's too — Claude
 * Code's gateway model discovery calls it with an `anthropic-version` header.
 */
function dialectOf(request: ProxyRequest): Dialect {
  if (request.path.startsWith('/v1/models') && request.headers['anthropic-version'] !== undefined) return 'anthropic';
  return dialectForPath(request.path);
}
