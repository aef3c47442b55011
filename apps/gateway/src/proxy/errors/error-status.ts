import { HttpException } from '@nestjs/common';
import { DialectError } from '@llmproxy/dialects';
import { UpstreamError } from '@llmproxy/ollama';

/** The HTTP status of an error on the proxy listener (500 for anything unknown): what the exception filter answers and the quota interceptor logs. */
export function statusOf(exception: unknown): number {
  if (exception instanceof DialectError) return exception.status;
  if (exception instanceof HttpException) return exception.getStatus();
  if (exception instanceof UpstreamError) return exception.status;
  return 500;
}
