import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { timestamp } from './columns.js';

/** Operator settings editable at run time (Ollama URL, default model, aliases, num_ctx). */
@Entity('settings')
export class SettingEntity {
  @PrimaryColumn({ type: 'varchar', length: 100 })
  key!: string;

  /** JSON-encoded value. */
  @Column({ type: 'text' })
  value!: string;

  @UpdateDateColumn({ name: 'updated_at', ...timestamp })
  updatedAt!: Date;
}
