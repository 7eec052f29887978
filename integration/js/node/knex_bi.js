// knex over mysql2 against arb, for integration/bi_drivers_test.go: the
// query builder's select with where/groupBy/orderBy/limit, a raw query with
// bindings, and a pool of connections shared by concurrent queries, as
// Node dashboards and internal tools use them.
//
// usage: node knex_bi.js MYSQL_PORT USER PASSWORD CA_PEM
// Connects over TLS verified against CA_PEM (arb's certificate). Prints one
// JSON object of what each step saw; a failing step is reported as
// {error, errno} so the Go test names it.
'use strict';
const fs = require('fs');

async function step(out, name, fn) {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { error: String(e.message || e), errno: e.errno || null };
  }
}

async function main() {
  const [port, user, password, ca] = process.argv.slice(2);
  const knex = require('knex')({
    client: 'mysql2',
    connection: {
      host: '127.0.0.1',
      port: Number(port),
      user,
      password,
      database: 'shop',
      timezone: 'Z', // arb's times are UTC; Date parameters are sent as UTC
      dateStrings: true,
      ssl: { ca: fs.readFileSync(ca) },
    },
    pool: { min: 0, max: 4 },
  });
  const out = { knex: require('knex/package.json').version, mysql2: require('mysql2/package.json').version };

  // The builder: pro-plan rows from 2025-01-08 on, per event, most first.
  await step(out, 'builder', async () => {
    const rows = await knex('events')
      .select('event')
      .count({ n: '*' })
      .countDistinct({ users: 'distinct_id' })
      .where('plan', 'pro')
      .andWhere('time', '>=', new Date('2025-01-08T00:00:00Z'))
      .groupBy('event')
      .orderBy([{ column: 'n', order: 'desc' }, { column: 'event', order: 'asc' }])
      .limit(2);
    return rows.map((r) => [r.event, Number(r.n), Number(r.users)]);
  });

  await step(out, 'raw', async () => {
    const [rows] = await knex.raw('SELECT ROUND(SUM(amount), 2) AS revenue FROM events WHERE event = ? AND time < ?', [
      'Purchase',
      new Date('2025-01-10T00:00:00Z'),
    ]);
    return Number(rows[0].revenue);
  });

  // Twelve concurrent day counts through the pool of at most 4 connections.
  await step(out, 'pool', async () => {
    const days = [];
    for (let d = 1; d <= 12; d++) days.push(`2025-01-${String(d).padStart(2, '0')}`);
    const counts = await Promise.all(
      days.map((day) =>
        knex('events')
          .count({ n: '*' })
          .whereRaw('DATE(time) = ?', [day])
          .then((rows) => [day, Number(rows[0].n)])
      )
    );
    const pool = knex.client.pool;
    return { counts, used: pool.numUsed(), free: pool.numFree(), max: pool.max };
  });

  await step(out, 'connections', async () => {
    // Distinct server connections the pool opened, seen from the server.
    const ids = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(() => knex.raw('SELECT CONNECTION_ID() AS id, SLEEP(0.2) AS s').then(([rows]) => Number(rows[0].id)))
    );
    return new Set(ids).size;
  });

  await step(out, 'insert', async () => {
    await knex('events').insert({ time: new Date('2025-02-01T00:00:00Z'), event: 'x', distinct_id: 'y' });
    return 'ok';
  });

  await knex.destroy();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
