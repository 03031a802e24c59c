// The mariadb store's schema: made by `mpmproxy session-store init`, checked when the server
// starts (as nevisProxy checks its session tables), with an error that names what differs. One
// table: a session's record is one row, so every change is one row's change and a renewal one
// transaction over two rows.
import type { Connection } from 'mariadb';
import { SessionSchemaError } from '../errors';

export const TABLE = 'mpmproxy_session';

export const CREATE_TABLE = `CREATE TABLE ${TABLE} (
  id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  expires BIGINT NOT NULL,
  data MEDIUMTEXT CHARACTER SET utf8mb4 NOT NULL,
  PRIMARY KEY (id),
  KEY ${TABLE}_expires (expires)
) ENGINE=InnoDB`;

/** Columns as information_schema describes them: name, COLUMN_TYPE, nullable. */
const COLUMNS: ReadonlyArray<readonly [string, string, 'NO' | 'YES']> = [
  ['id', 'varchar(32)', 'NO'],
  ['expires', 'bigint(20)', 'NO'],
  ['data', 'mediumtext', 'NO'],
];

/** Indexes: name, its columns in order, unique. */
const INDEXES: ReadonlyArray<readonly [string, string, boolean]> = [
  ['PRIMARY', 'id', true],
  [`${TABLE}_expires`, 'expires', false],
];

/** MariaDB 10.x writes integer display widths (bigint(20)); later releases may not. */
function integerWidthless(type: string): string {
  return type.replace(/^(bigint|int)\(\d+\)/, '$1');
}

/** Creates the schema in an empty database; an existing table is checked instead. */
export async function initSchema(conn: Connection): Promise<'created' | 'present'> {
  const [{ n }] = (await conn.query('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [TABLE])) as Array<{ n: bigint | number }>;
  if (Number(n) > 0) {
    await checkSchema(conn);
    return 'present';
  }
  await conn.query(CREATE_TABLE);
  return 'created';
}

/** Throws SessionSchemaError naming every difference from the schema this build uses. */
export async function checkSchema(conn: Connection): Promise<void> {
  const problems: string[] = [];
  const tables = (await conn.query('SELECT ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [TABLE])) as Array<{ engine: string }>;
  if (tables.length === 0) {
    throw new SessionSchemaError(`table ${TABLE} is missing in the session database: run \`mpmproxy -f FILE session-store init\``);
  }
  if (tables[0].engine !== 'InnoDB') problems.push(`table ${TABLE} uses engine ${tables[0].engine}, expected InnoDB (row locks and transactions)`);
  const columns = (await conn.query(
    'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [TABLE],
  )) as Array<{ name: string; type: string; nullable: string }>;
  const found = new Map(columns.map((c) => [c.name, c]));
  for (const [name, type, nullable] of COLUMNS) {
    const c = found.get(name);
    if (c === undefined) problems.push(`column ${TABLE}.${name} is missing (expected ${type}${nullable === 'NO' ? ' NOT NULL' : ''})`);
    else if (integerWidthless(c.type) !== integerWidthless(type)) problems.push(`column ${TABLE}.${name} is ${c.type}, expected ${type}`);
    else if (c.nullable !== nullable) problems.push(`column ${TABLE}.${name} is ${c.nullable === 'YES' ? 'NULL' : 'NOT NULL'}, expected ${nullable === 'YES' ? 'NULL' : 'NOT NULL'}`);
  }
  for (const c of columns) if (!COLUMNS.some(([name]) => name === c.name)) problems.push(`column ${TABLE}.${c.name} is not part of the schema`);
  const indexRows = (await conn.query(
    'SELECT INDEX_NAME AS name, COLUMN_NAME AS col, NON_UNIQUE AS nonUnique FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX',
    [TABLE],
  )) as Array<{ name: string; col: string; nonUnique: number | bigint }>;
  const indexes = new Map<string, { cols: string[]; unique: boolean }>();
  for (const r of indexRows) {
    const i = indexes.get(r.name) ?? { cols: [], unique: Number(r.nonUnique) === 0 };
    i.cols.push(r.col);
    indexes.set(r.name, i);
  }
  for (const [name, cols, unique] of INDEXES) {
    const i = indexes.get(name);
    const what = name === 'PRIMARY' ? `PRIMARY KEY (${cols})` : `${unique ? 'UNIQUE ' : ''}KEY ${name} (${cols})`;
    if (i === undefined) problems.push(`index ${what} is missing on ${TABLE}`);
    else if (i.cols.join(',') !== cols || i.unique !== unique) problems.push(`index ${name} on ${TABLE} is (${i.cols.join(', ')})${i.unique ? ' unique' : ''}, expected ${what}`);
  }
  const keys = (await conn.query(
    'SELECT CONSTRAINT_NAME AS name, REFERENCED_TABLE_NAME AS ref FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND (TABLE_NAME = ? OR REFERENCED_TABLE_NAME = ?)',
    [TABLE, TABLE],
  )) as Array<{ name: string; ref: string }>;
  for (const k of keys) problems.push(`foreign key ${k.name} (references ${k.ref}) is not part of the schema: it would make session writes wait on other tables`);
  if (problems.length > 0) throw new SessionSchemaError(`the session database's schema differs from this build's: ${problems.join('; ')}`);
}
