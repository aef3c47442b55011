import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { AuditEntry } from '@llmproxy/api-types';

@ApiSchema({ name: 'AuditEntry' })
export class AuditEntrySchema implements AuditEntry {
  @ApiProperty({ type: 'integer' })
  id!: number;

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty({ example: 'key.create' })
  action!: string;

  @ApiProperty({ type: String, nullable: true, description: 'The admin account behind the change (its username then); null for the CLI, failed logins and rows from before named admins.' })
  actor!: string | null;

  @ApiProperty({ type: String, nullable: true })
  target_type!: string | null;

  @ApiProperty({ type: String, nullable: true })
  target_id!: string | null;

  @ApiProperty({ type: String, nullable: true })
  target_name!: string | null;

  @ApiProperty({
    type: 'object',
    nullable: true,
    additionalProperties: { type: 'object', properties: { old: {}, new: {} }, required: ['old', 'new'] },
    description: 'Old and new value of each changed field; never a secret.',
  })
  changes!: Record<string, { old: unknown; new: unknown }> | null;
}
