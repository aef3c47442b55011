import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { timestamp } from './columns.js';

/** A logged-in admin session. Only the token's hash is stored; the token exists only in the client. */
@Entity('admin_sessions')
export class AdminSessionEntity {
  /** SHA-256 of the session token, hex. */
  @PrimaryColumn({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash!: string;

  @CreateDateColumn({ name: 'created_at', ...timestamp })
  createdAt!: Date;

  @Column({ name: 'expires_at', ...timestamp })
  expiresAt!: Date;

  /** The named account signed in; null for the built-in admin of ADMIN_PASSWORD. */
  @Column({ name: 'account_id', type: 'integer', nullable: true })
  accountId!: number | null;
}
