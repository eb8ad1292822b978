/**
 * What explains a bend in the curves: the sizes of the events table and of each of its indexes
 * (and of the raw table), the depth of each B-tree (pageinspect's `bt_metap`), and how much of
 * each relation sits in shared_buffers (pg_buffercache), at one store size.
 */
import type pg from 'pg';

/** One relation of the store. */
export interface RelationStats {
  readonly name: string;
  readonly bytes: number;
  /** B-tree levels above the leaves (0: the root is a leaf); undefined for a table. */
  readonly btreeLevel?: number;
  /** Bytes of it in shared_buffers when the stats were taken. */
  readonly cachedBytes?: number;
}

/** The store's relations at one size. */
export interface SizeStats {
  readonly events: number;
  readonly relations: RelationStats[];
}

/** Installs what the stats need (both ship with PostgreSQL's contrib; a superuser may install them). */
export async function prepareStats(pool: pg.Pool): Promise<boolean> {
  try {
    await pool.query('CREATE EXTENSION IF NOT EXISTS pageinspect');
    await pool.query('CREATE EXTENSION IF NOT EXISTS pg_buffercache');
    return true;
  } catch {
    return false;
  }
}

/** The sizes, depths and cached shares of `schema`'s events table, its indexes and `rawTable`. */
export async function sizeStats(
  pool: pg.Pool,
  schema: string,
  rawTable: string,
  extensions: boolean,
): Promise<SizeStats> {
  const { rows: count } = await pool.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM "${schema}".events`,
  );
  const { rows } = await pool.query<{
    oid: number;
    name: string;
    kind: string;
    bytes: string;
    am: string | null;
  }>(
    `SELECT c.oid::int AS oid, c.relname AS name, c.relkind::text AS kind, pg_relation_size(c.oid)::text AS bytes,
            am.amname AS am
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_am am ON am.oid = c.relam
      WHERE n.nspname = $1
        AND (c.relname IN ('events', $2)
             OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN (
                  SELECT oid FROM pg_class WHERE relnamespace = n.oid AND relname IN ('events', $2))))
      ORDER BY c.relname = 'events' DESC, c.relname = $2, c.relname`,
    [schema, rawTable],
  );
  const cached = new Map<number, number>();
  if (extensions) {
    const { rows: buffers } = await pool.query<{ oid: number; bytes: string }>(
      `SELECT c.oid::int AS oid, (count(*) * current_setting('block_size')::bigint)::text AS bytes
         FROM pg_buffercache b JOIN pg_class c ON pg_relation_filenode(c.oid) = b.relfilenode
        WHERE b.reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND c.oid = ANY($1::oid[])
        GROUP BY c.oid`,
      [rows.map((row) => row.oid)],
    );
    for (const row of buffers) cached.set(row.oid, Number(row.bytes));
  }
  const relations: RelationStats[] = [];
  for (const row of rows) {
    let btreeLevel: number | undefined;
    if (extensions && row.kind === 'i' && row.am === 'btree') {
      const { rows: meta } = await pool.query<{ level: number }>(
        `SELECT level::int AS level FROM bt_metap($1)`,
        [`"${schema}"."${row.name}"`],
      );
      btreeLevel = meta[0]?.level;
    }
    relations.push({
      name: row.name,
      bytes: Number(row.bytes),
      ...(btreeLevel === undefined ? {} : { btreeLevel }),
      ...(extensions ? { cachedBytes: cached.get(row.oid) ?? 0 } : {}),
    });
  }
  return { events: Number(count[0]?.n ?? 0), relations };
}

/** Server settings the report prints. */
export async function serverSettings(pool: pg.Pool): Promise<{ version: string; settings: string }> {
  const version = (await pool.query<{ version: string }>('SELECT version()')).rows[0]?.version ?? '';
  const { rows } = await pool.query<{ name: string; setting: string }>(
    `SELECT name, current_setting(name) AS setting FROM pg_settings
      WHERE name = ANY($1) ORDER BY name`,
    [
      [
        'shared_buffers',
        'effective_cache_size',
        'work_mem',
        'max_wal_size',
        'synchronous_commit',
        'fsync',
        'full_page_writes',
        'random_page_cost',
        'autovacuum',
      ],
    ],
  );
  return { version, settings: rows.map((row) => `${row.name}=${row.setting}`).join(', ') };
}
