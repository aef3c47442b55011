import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber, timestamp } from './columns.js';

const jsonList = {
  to: (value: string[] | null | undefined) => (value == null ? null : JSON.stringify(value)),
  from: (value: string | null) => (value == null ? null : (JSON.parse(value) as string[])),
};

@Entity('api_keys')
export class ApiKeyEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** SHA-256 of the whole key, hex. The plaintext is never stored. */
  @Index('uq_api_keys_key_hash', { unique: true })
  @Column({ name: 'key_hash', type: 'varchar', length: 64 })
  keyHash!: string;

  /** What the admin sees: `sk-AbCd12`. */
  @Column({ name: 'key_prefix', type: 'varchar', length: 16 })
  keyPrefix!: string;

  @Column({ name: 'is_active', type: 'boolean', default: true })
  isActive!: boolean;

  @Column({ name: 'expires_at', ...timestamp, nullable: true })
  expiresAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', ...timestamp })
  createdAt!: Date;

  @Column({ name: 'last_used_at', ...timestamp, nullable: true })
  lastUsedAt!: Date | null;

  /** JSON array of Ollama model names; null = every model. */
  @Column({ name: 'allowed_models', type: 'text', nullable: true, transformer: jsonList })
  allowedModels!: string[] | null;

  @Column({ name: 'max_concurrent', type: 'integer', nullable: true })
  maxConcurrent!: number | null;

  /** Turns per round in the fair queue for a busy Ollama server (libs/upstreams Scheduler). */
  @Column({ name: 'queue_weight', type: 'integer', default: 1 })
  queueWeight!: number;

  @Column({ name: 'daily_token_limit', ...bigintNumber, nullable: true })
  dailyTokenLimit!: number | null;

  @Column({ name: 'monthly_token_limit', ...bigintNumber, nullable: true })
  monthlyTokenLimit!: number | null;

  @Column({ name: 'daily_request_limit', ...bigintNumber, nullable: true })
  dailyRequestLimit!: number | null;

  @Column({ name: 'monthly_request_limit', ...bigintNumber, nullable: true })
  monthlyRequestLimit!: number | null;
}
