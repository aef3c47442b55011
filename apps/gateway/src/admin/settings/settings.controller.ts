import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../../common/openapi/error-body.js';
import type { OllamaStatus } from '../ollama/ollama-probe.js';
import { SettingsEditor, type SettingsView } from './settings-editor.service.js';
import { SettingsRefusalSchema, SettingsSchema, UpdateSettingsResponseSchema } from './settings.schema.js';
import { UpdateSettingsDto } from './update-settings.dto.js';

@ApiTags('settings')
@Controller('api/settings')
export class SettingsController {
  constructor(private readonly editor: SettingsEditor) {}

  @Get()
  @ApiOkResponse({ type: SettingsSchema })
  get(): Promise<SettingsView> {
    return this.editor.view();
  }

  @Put()
  @ApiOkResponse({ type: UpdateSettingsResponseSchema, description: 'Saved; `ollama` says whether the Ollama URL answers.' })
  @ApiBadRequestResponse({ type: SettingsRefusalSchema, description: 'Invalid, or an unreachable ollama_url / unknown model (nothing saved; the save_* flags override)' })
  @ApiErrors(409, 502)
  update(@Body() dto: UpdateSettingsDto): Promise<{ settings: SettingsView; ollama: OllamaStatus }> {
    return this.editor.update({
      ollamaUrl: dto.ollama_url,
      defaultModel: dto.default_model,
      modelAliases: dto.model_aliases,
      numCtx: dto.num_ctx,
      keepAliveMinSeconds: dto.keep_alive_min_s,
      keepAliveMaxSeconds: dto.keep_alive_max_s,
      maxNumCtx: dto.max_num_ctx,
      allowLoadOptions: dto.allow_load_options,
      allowCloudModels: dto.allow_cloud_models,
      saveUnreachable: dto.save_unreachable,
      saveUnknownModels: dto.save_unknown_models,
    });
  }
}
