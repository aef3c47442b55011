import { Initial1764100000000 } from './1764100000000-initial.js';

/** Every migration, oldest first. One set serves SQLite and PostgreSQL. */
export const migrations = [Initial1764100000000];
