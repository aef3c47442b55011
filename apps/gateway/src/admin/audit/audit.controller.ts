import { Controller, Get, Query } from '@nestjs/common';
import { AuditLog, type AuditRecordView } from '@llmproxy/audit';
import { AuditQueryDto } from './audit-query.dto.js';

const DEFAULT_LIMIT = 100;

@Controller('api/audit')
export class AuditController {
  constructor(private readonly audit: AuditLog) {}

  @Get()
  list(@Query() query: AuditQueryDto): Promise<AuditRecordView[]> {
    return this.audit.list({ limit: query.limit ?? DEFAULT_LIMIT, beforeId: query.before_id });
  }
}
