import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse, ApiSchema } from '@nestjs/swagger';
import type { ApiErrorBody } from '@llmproxy/api-types';

/** Nest's error body, as every refusal of the admin API is written. */
@ApiSchema({ name: 'ApiErrorBody' })
export class ErrorBodySchema implements ApiErrorBody {
  @ApiProperty({ type: 'integer', example: 400 })
  statusCode!: number;

  /** Validation failures list every broken constraint. */
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] })
  message!: string | string[];

  @ApiPropertyOptional({ example: 'Bad Request' })
  error?: string;
}

const DESCRIPTIONS = {
  400: 'The request is invalid: a field, a query parameter or an id (message names it)',
  404: 'No such record',
  409: 'Conflicts with what is stored (message says with what)',
  502: 'An Ollama server did not answer (message names it)',
} as const;

/** The refusals a route may answer besides 401 and 429 (which every guarded route may; the document adds them). */
export function ApiErrors(...statuses: (keyof typeof DESCRIPTIONS)[]): MethodDecorator & ClassDecorator {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], type: ErrorBodySchema })));
}
