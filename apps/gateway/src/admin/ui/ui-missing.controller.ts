import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../../common/public.decorator.js';

/** Stands in for the UI's files, which the OpenAPI document does not describe either. */
@ApiExcludeController()
@Controller()
export class UiMissingController {
  @Public()
  @Get()
  @Header('content-type', 'text/plain; charset=utf-8')
  missing(): string {
    return 'llmproxy admin API. The admin UI is not built: run `npm --prefix angular-admin ci && npm --prefix angular-admin run build` (scripts/start.sh does).\n';
  }
}
