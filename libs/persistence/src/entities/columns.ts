import type { ColumnOptions } from 'typeorm';

/**
 * A point in time, on both databases: TypeORM maps `Date` to `datetime` (UTC text) on SQLite; the
 * migrations create `timestamptz` on PostgreSQL, which TypeORM reads and writes as absolute instants.
 */
export const timestamp: ColumnOptions = { type: Date };

/** 64-bit counters and limits read back as JS numbers (exact up to 2^53). */
export const bigintNumber: ColumnOptions = {
  type: 'bigint',
  transformer: {
    to: (value: number | null | undefined) => value,
    from: (value: string | number | null) => (value == null ? null : Number(value)),
  },
};
