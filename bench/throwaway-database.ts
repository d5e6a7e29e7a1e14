import pg from 'pg';

export interface ThrowawayDatabase {
  name: string;
  /** The admin URL with the new database's name. */
  url: string;
  drop(): Promise<void>;
}

/** A database of its own on the server `adminUrl` names, for one bench run; `drop` removes it (connections and all). */
export async function throwawayDatabase(adminUrl: string, prefix: string): Promise<ThrowawayDatabase> {
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
