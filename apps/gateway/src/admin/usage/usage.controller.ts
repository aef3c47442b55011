import { Controller, Get, Header, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../../common/openapi/error-body.js';
import { toCsv } from './csv.js';
import { UsageQueryDto } from './usage-query.dto.js';
import { UsageResponseSchema } from './usage.schema.js';
import { CSV_COLUMNS, UsageReportService, type UsageReport } from './usage-report.service.js';

@ApiTags('usage')
@Controller('api')
export class UsageController {
  constructor(private readonly usage: UsageReportService) {}

  @Get('usage')
  @ApiOkResponse({ type: UsageResponseSchema })
  @ApiErrors(400)
  report(@Query() query: UsageQueryDto): Promise<UsageReport> {
    return this.usage.report(toQuery(query));
  }

  /** The same series as CSV, one row per entry, for spreadsheets. */
  @Get('usage.csv')
  @Header('content-type', 'text/csv; charset=utf-8')
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'One row per entry of `series`, with a header row; an attachment.', content: { 'text/csv': { schema: { type: 'string' } } } })
  @ApiErrors(400)
  async csv(@Query() query: UsageQueryDto, @Res({ passthrough: true }) response: Response): Promise<string> {
    const report = await this.usage.report(toQuery(query));
    response.setHeader('content-disposition', `attachment; filename="usage-${report.from}-${report.to}-${report.granularity}.csv"`);
    return toCsv(CSV_COLUMNS, report.series.map((point) => CSV_COLUMNS.map((column) => point[column])));
  }
}

function toQuery(dto: UsageQueryDto) {
  return { from: dto.from, to: dto.to, granularity: dto.granularity, keyId: dto.key_id, model: dto.model };
}
