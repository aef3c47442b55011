import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * An upstream's reserved slots: the last `reserved_slots` free slots go only to keys with nothing
 * in flight there, so a key that holds the rest cannot make a newcomer wait for an answer to end
 * (libs/upstreams/src/scheduler.ts). 0, the default, keeps every slot open to every key.
 */
export class UpstreamReservedSlots1765000000000 implements MigrationInterface {
  name = 'UpstreamReservedSlots1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('upstreams', new TableColumn({ name: 'reserved_slots', type: 'integer', default: 0 }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('upstreams', 'reserved_slots');
  }
}
