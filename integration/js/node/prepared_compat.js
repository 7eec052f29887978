// mysql2's execute() (COM_STMT_PREPARE + COM_STMT_EXECUTE) against arb,
// for integration/prepared_compat_test.go: WITH ROLLUP and EXPLAIN
// FORMAT=JSON prepared with a parameter, the column types of DATE values
// (mysql2's fields: columnType), and a JSON properties parameter with
// integers beyond int64, each next to the same statement sent by query().
//
// usage: node prepared_compat.js MYSQL_PORT
// Prints one JSON object of what each step returned; exits 1 on an
// unexpected failure.
'use strict';
const mysql = require('mysql2/promise');

async function main() {
  const [port] = process.argv.slice(2);
  const conn = await mysql.createConnection({
    host: '127.0.0.1', port: Number(port), user: 'root', database: 'default',
    supportBigNumbers: true, bigNumberStrings: true, dateStrings: true,
  });
  const out = {};
  const rollup = 'SELECT event, count(*) AS n, sum(amount) AS total FROM events WHERE amount > ? GROUP BY event WITH ROLLUP';
  out.rollupExecute = (await conn.execute(rollup, [2]))[0];
  out.rollupQuery = (await conn.query(rollup.replace('?', '2')))[0];

  const explain = 'EXPLAIN FORMAT=JSON SELECT event, count(*) FROM events WHERE amount > ? GROUP BY event';
  out.explainExecute = (await conn.execute(explain, [2]))[0];
  // mysql2 binds a JS number as a DOUBLE: the same query names a DOUBLE.
  out.explainQuery = (await conn.query(explain.replace('?', '2e0')))[0];

  const dates = "SELECT DATE '2024-01-01' AS d, CURDATE() AS c, CURRENT_DATE AS cd, UTC_DATE() AS u, DATE(time) AS dt, " +
    "TIMESTAMP '2024-01-01 10:00:00.25' AS ts FROM events WHERE amount > ? ORDER BY time LIMIT 1";
  for (const [name, f] of [['datesExecute', () => conn.execute(dates, [2])], ['datesQuery', () => conn.query(dates.replace('?', '2'))]]) {
    const [rows, fields] = await f();
    out[name] = { row: rows[0], types: fields.map((x) => [x.name, x.columnType]) };
  }

  const props = '{"a": 9223372036854775808, "b": 18446744073709551615, "c": -9223372036854775809, "d": 0.1}';
  await conn.execute('INSERT INTO events (time, event, distinct_id, properties) VALUES (?, ?, ?, ?)', ['2025-01-05 00:00:00', 'J', 'executed', props]);
  await conn.query("INSERT INTO events (time, event, distinct_id, properties) VALUES ('2025-01-05 00:00:00', 'J', 'queried', '" + props + "')");
  const read = 'SELECT distinct_id, CAST(a AS CHAR) AS a, CAST(b AS CHAR) AS b, CAST(c AS CHAR) AS c, CAST(d AS CHAR) AS d FROM events WHERE event = ? ORDER BY distinct_id';
  out.props = (await conn.execute(read, ['J']))[0];
  await conn.end();
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
