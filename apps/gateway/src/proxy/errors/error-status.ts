import { HttpException } from '@nestjs/common';
import { DialectError } from '@llmproxy/dialects';
import { UpstreamError } from '@llmproxy/ollama';

/** The HTTP status the proxy's exception filter answers an error with (500 for anything unknown). */
export function statusOf(exception: unknown): number {
  if (exception instanceof DialectError) return exception.status;
  if (exception instanceof HttpException) return exception.getStatus();
  if (exception instanceof UpstreamError) return exception.status;
  return 500;
}
