// mysql2's changeUser against arb, for integration/protocol_commands_test.go:
// COM_CHANGE_USER re-authenticates a connection as another account and
// resets its session; a pooled connection changes user the same way.
//
// usage: node change_user.js MYSQL_PORT ROOT_PASSWORD
// Prints one JSON object of what each step saw; exits 1 on an unexpected
// failure.
'use strict';
const mysql = require('mysql2/promise');

async function row(conn, sql) {
  const [rows] = await conn.query(sql);
  return rows[0];
}

async function errno(fn) {
  try {
    await fn();
    return 0;
  } catch (e) {
    return e.errno || String(e);
  }
}

async function main() {
  const [port, rootPassword] = process.argv.slice(2);
  const base = { host: '127.0.0.1', port: Number(port), supportBigNumbers: true, bigNumberStrings: true };
  const out = {};

  const conn = await mysql.createConnection({ ...base, user: 'root', password: rootPassword, database: 'default' });
  await conn.query('SET @x = 42');
  await conn.query('CREATE TEMPORARY TABLE tt (x INT)');
  out.before = await row(conn, 'SELECT CURRENT_USER() AS user, @x AS x, DATABASE() AS db');

  out.wrongPassword = await errno(() => conn.changeUser({ user: 'analyst', password: 'wrong', database: 'shop' }));
  out.afterWrong = await row(conn, 'SELECT CURRENT_USER() AS user, @x AS x, DATABASE() AS db');

  await conn.changeUser({ user: 'analyst', password: 'apw', database: 'shop' });
  out.after = await row(conn, 'SELECT CURRENT_USER() AS user, @x AS x, DATABASE() AS db, (SELECT COUNT(*) FROM events) AS events');
  out.insertAsAnalyst = await errno(() => conn.query("INSERT INTO events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'x', 'u9')"));
  // Back to root: the first session's temporary table is gone with it.
  await conn.changeUser({ user: 'root', password: rootPassword, database: 'default' });
  out.tempTableGone = await errno(() => conn.query('SELECT * FROM tt'));
  await conn.end();

  // caching_sha2_password over TLS: the password goes in clear inside TLS
  // after the server asks for full authentication.
  const tls = await mysql.createConnection({ ...base, user: 'root', password: rootPassword, database: 'default', ssl: { rejectUnauthorized: false } });
  out.sha2Wrong = await errno(() => tls.changeUser({ user: 'sha', password: 'nope', database: 'shop' }));
  await tls.changeUser({ user: 'sha', password: 'spw', database: 'shop' });
  out.sha2 = await row(tls, 'SELECT CURRENT_USER() AS user, DATABASE() AS db');
  await tls.end();

  // A pool of one connection: the second checkout gets the same
  // connection, changed to another user and back.
  const pool = mysql.createPool({ ...base, user: 'root', password: rootPassword, database: 'default', connectionLimit: 1 });
  let pc = await pool.getConnection();
  const [idRows] = await pc.query('SELECT CONNECTION_ID() AS id');
  await pc.changeUser({ user: 'analyst', password: 'apw', database: 'shop' });
  out.pooledAnalyst = await row(pc, 'SELECT CURRENT_USER() AS user, CONNECTION_ID() AS id');
  await pc.changeUser({ user: 'root', password: rootPassword, database: 'default' });
  pc.release();
  pc = await pool.getConnection();
  out.pooledRoot = await row(pc, 'SELECT CURRENT_USER() AS user, CONNECTION_ID() AS id, DATABASE() AS db');
  out.pooledFirstId = idRows[0].id;
  pc.release();
  await pool.end();

  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
