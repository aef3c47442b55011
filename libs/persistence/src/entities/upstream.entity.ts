import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { timestamp } from './columns.js';

/** One Ollama server the gateway sends to (libs/upstreams). Shared by every replica. */
@Entity('upstreams')
export class UpstreamEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 64, unique: true })
  name!: string;

  /** May carry credentials (user:password@, a token in the query): shown and audited redacted. */
  @Column({ type: 'varchar', length: 2048 })
  url!: string;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  @Column({ name: 'max_parallel', type: 'integer', default: 4 })
  maxParallel!: number;

  @Column({ type: 'integer', default: 0 })
  priority!: number;

  /** Of max_parallel, the slots kept for keys with nothing in flight on this server. */
  @Column({ name: 'reserved_slots', type: 'integer', default: 0 })
  reservedSlots!: number;

  @CreateDateColumn({ name: 'created_at', ...timestamp })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', ...timestamp })
  updatedAt!: Date;
}
