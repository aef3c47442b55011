import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { timestamp } from './columns.js';

/** One admin write: what was done to what, with the old and new values. Never a secret. */
@Entity('audit_log')
export class AuditLogEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @CreateDateColumn({ name: 'at', ...timestamp })
  at!: Date;

  /** `key.create`, `settings.update`, `login.failure`, … */
  @Column({ type: 'varchar', length: 50 })
  action!: string;

  /** The admin account behind the change (its username then), or null: a CLI, a failed login, rows from before accounts. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  actor!: string | null;

  @Column({ name: 'target_type', type: 'varchar', length: 50, nullable: true })
  targetType!: string | null;

  @Column({ name: 'target_id', type: 'varchar', length: 100, nullable: true })
  targetId!: string | null;

  @Column({ name: 'target_name', type: 'varchar', length: 200, nullable: true })
  targetName!: string | null;

  /** JSON `{ field: { old, new } }`. */
  @Column({ type: 'text', nullable: true })
  changes!: string | null;
}
