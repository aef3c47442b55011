import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AuditLog, type AuditRecordView } from '@llmproxy/audit';
import { ApiErrors } from '../../common/openapi/error-body.js';
import { AuditQueryDto } from './audit-query.dto.js';
import { AuditEntrySchema } from './audit.schema.js';

const DEFAULT_LIMIT = 100;

@ApiTags('audit')
@Controller('api/audit')
export class AuditController {
  constructor(private readonly audit: AuditLog) {}

  @Get()
  @ApiOkResponse({ type: AuditEntrySchema, isArray: true, description: 'Newest first.' })
  @ApiErrors(400)
  list(@Query() query: AuditQueryDto): Promise<AuditRecordView[]> {
    return this.audit.list({ limit: query.limit ?? DEFAULT_LIMIT, beforeId: query.before_id });
  }
}
