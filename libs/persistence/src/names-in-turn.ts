import type { EntityManager } from 'typeorm';

/**
 * Makes a transaction's "is this name free?" check and its write one step across processes: on
 * PostgreSQL, transactions that take the same table's name lock run this part one after another (the
 * lock is released at commit or rollback), so a second one sees the first one's committed name. Two
 * at once — a double-clicked Create, two admins, two replicas — each found the name free and both
 * inserted. SQLite needs nothing: its transactions hold the database's one write lock from BEGIN.
 */
export async function namesInTurn(manager: EntityManager, table: string): Promise<void> {
  if (manager.connection.options.type !== 'postgres') return;
  await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`llmproxy names of ${table}`]);
}
