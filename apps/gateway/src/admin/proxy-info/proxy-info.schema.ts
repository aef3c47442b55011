import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { ProxyInfo } from '@llmproxy/api-types';

@ApiSchema({ name: 'ProxyInfo', description: 'The URLs key holders should use.' })
export class ProxyInfoSchema implements ProxyInfo {
  @ApiProperty({ format: 'uri', example: 'http://127.0.0.1:8000' })
  proxy_url!: string;

  @ApiProperty({ format: 'uri' })
  ollama_base_url!: string;

  @ApiProperty({ format: 'uri', example: 'http://127.0.0.1:8000/v1' })
  openai_base_url!: string;

  @ApiProperty({ format: 'uri' })
  anthropic_base_url!: string;

  @ApiProperty({ format: 'uri' })
  admin_url!: string;
}
