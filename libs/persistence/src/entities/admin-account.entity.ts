import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { timestamp } from './columns.js';

/** A named admin with a role. ADMIN_PASSWORD's built-in "admin" is not a row (apps/gateway/src/admin/accounts). */
@Entity('admin_accounts')
export class AdminAccountEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  /** Lower case; unique. */
  @Column({ type: 'varchar', length: 64, unique: true })
  username!: string;

  /** `admin` or `viewer`. */
  @Column({ type: 'varchar', length: 20 })
  role!: string;

  /** `scrypt$N$r$p$salt$hash` (base64url): the parameters travel with the hash. Never sent, never logged. */
  @Column({ name: 'password_hash', type: 'varchar', length: 255 })
  passwordHash!: string;

  @Column({ name: 'password_changed_at', ...timestamp })
  passwordChangedAt!: Date;

  @CreateDateColumn({ name: 'created_at', ...timestamp })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', ...timestamp })
  updatedAt!: Date;
}
