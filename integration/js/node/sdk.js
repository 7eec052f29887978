// Drives the unmodified official mixpanel-node SDK (npm `mixpanel`, 0.24.0)
// against a running arb. Run by integration/node_sdk_test.go:
//
//   node sdk.js PORT main      every call must succeed; prints "node-sdk: done"
//   node sdk.js PORT badtoken  a client with an unknown token must get errors
//
// Each call is awaited through its callback. Any error (or a callback that
// never comes) fails the script with a message and a non-zero exit code.
// The test clears HTTP(S)_PROXY: the SDK would send 127.0.0.1 through it.
'use strict';

const Mixpanel = require('mixpanel');

const [port, scenario] = process.argv.slice(2);
if (!port || !scenario) {
  console.error('usage: node sdk.js PORT main|badtoken');
  process.exit(2);
}
const host = '127.0.0.1:' + port;

// A callback the SDK never calls would otherwise let node exit 0 with work
// left undone.
const watchdog = setTimeout(() => {
  console.error('node-sdk: timed out waiting for a callback');
  process.exit(3);
}, 60000);

// call runs fn(callback) and resolves when the SDK's callback reports
// success. Single calls get an Error or undefined; batch calls get an
// array of Errors or null.
function call(what, fn) {
  return new Promise((resolve, reject) => {
    fn((err) => {
      if (err) {
        const errs = Array.isArray(err) ? err : [err];
        reject(new Error(what + ': ' + errs.map((e) => (e && e.message) || String(e)).join('; ')));
      } else {
        resolve();
      }
    });
  });
}

// Fixed event times (ms), so the test can check them exactly.
const T0 = Date.UTC(2025, 2, 1, 12, 0, 0, 123); // 2025-03-01T12:00:00.123Z
const T1 = Date.UTC(2024, 0, 15, 8, 30, 0, 456); // 2024-01-15T08:30:00.456Z

async function main() {
  const mp = Mixpanel.init('tok123', { host, protocol: 'http' });

  // track: GET /track?ip=0&verbose=0&data=<base64>
  await call('track Signup', (cb) => mp.track('Signup', { distinct_id: 'n1', plan: 'pro', amount: 3 }, cb));

  // track_batch: POST /track, form body data=<base64> NOT %-encoded. The
  // '>>>???~~~' value puts '+' into the base64; a form decoder that turns
  // '+' into ' ' breaks the batch.
  const batch = [
    { event: 'Batch', properties: { distinct_id: 'nb', time: T0, $insert_id: 'nb-1', pos: 1, weird: '>>>???~~~' } },
    { event: 'Batch', properties: { distinct_id: 'nb', time: T0 + 1001, $insert_id: 'nb-2', pos: 2, text: 'naïve ✓ a+b c&d=e' } },
    { event: 'Batch', properties: { distinct_id: 'nb', time: new Date(T0 + 2002), $insert_id: 'nb-3', pos: 3 } },
  ];
  await call('track_batch', (cb) => mp.track_batch(batch, cb));
  // The SDK completed the events in place (token, time as ms): this is
  // exactly the body it sent.
  const sent = Buffer.from(JSON.stringify(batch)).toString('base64');
  if (!sent.includes('+')) {
    throw new Error("test data no longer exercises '+': the track_batch body's base64 has none");
  }

  // import_batch and import with the legacy `key` option: ?api_key=SECRET
  // (the SDK refuses the secret and service accounts over plain http).
  const imp = Mixpanel.init('tok123', { host, protocol: 'http', key: 'sec456' });
  const imports = [
    { event: 'Imported', properties: { distinct_id: 'ni', time: T1, $insert_id: 'ni-1', source: 'batch' } },
    { event: 'Imported', properties: { distinct_id: 'ni', time: T1 + 500, $insert_id: 'ni-2', source: 'batch' } },
  ];
  await call('import_batch', (cb) => imp.import_batch(imports, cb));
  // A client retry of the same batch: stored once (dedup by $insert_id).
  await call('import_batch resend', (cb) => imp.import_batch(imports, cb));
  await call('import', (cb) =>
    imp.import('Imported', new Date(T1 + 1000), { distinct_id: 'ni', $insert_id: 'ni-3', source: 'single' }, cb));

  // alias: $create_alias through GET /track; later events under the alias
  // belong to the original id.
  await call('alias', (cb) => mp.alias('n1', 'n1-alias', cb));
  await call('track Aliased', (cb) => mp.track('Aliased', { distinct_id: 'n1-alias' }, cb));

  // people: GET /engage, one operation per request, in this order.
  const p = mp.people;
  await call('people.set', (cb) => p.set('n1', { $name: 'Nina', plan: 'pro' }, cb));
  await call('people.set_once a', (cb) => p.set_once('n1', { first: 'a' }, cb));
  await call('people.set_once b', (cb) => p.set_once('n1', { first: 'b' }, cb));
  await call('people.increment 1', (cb) => p.increment('n1', 'logins', 2, cb));
  await call('people.increment 2', (cb) => p.increment('n1', 'logins', 2, cb));
  await call('people.append', (cb) => p.append('n1', 'tags', 'x', cb));
  await call('people.union 1', (cb) => p.union('n1', { tags2: ['a', 'b'] }, cb));
  await call('people.union 2', (cb) => p.union('n1', { tags2: ['b', 'c'] }, cb));
  await call('people.remove', (cb) => p.remove('n1', { tags2: 'a' }, cb));
  await call('people.unset', (cb) => p.unset('n1', 'plan', cb));
  await call('people.set n2', (cb) => p.set('n2', { $name: 'Zed' }, cb));
  await call('people.delete_user n2', (cb) => p.delete_user('n2', cb));

  // groups: GET /groups
  await call('groups.set', (cb) => mp.groups.set('company', 'acme', { name: 'Acme', seats: 10 }, cb));
}

// badtoken: arb answers an unknown token with status 0 (a deliberate
// deviation from Mixpanel's silent `1`); the SDK must surface it as an
// error, in plain and in verbose mode.
async function badtoken() {
  for (const verbose of [false, true]) {
    const bad = Mixpanel.init('nope', { host, protocol: 'http', verbose });
    const err = await new Promise((resolve) => bad.track('Nope', { distinct_id: 'z' }, resolve));
    if (!err) {
      throw new Error(`verbose=${verbose}: track with the unknown token 'nope' got no error`);
    }
    console.log(`verbose=${verbose}: ${err.message}`);
  }
}

const scenarios = { main, badtoken };
if (!scenarios[scenario]) {
  console.error('unknown scenario ' + scenario);
  process.exit(2);
}
scenarios[scenario]().then(
  () => {
    clearTimeout(watchdog);
    console.log('node-sdk: done');
    process.exit(0);
  },
  (err) => {
    console.error('node-sdk: ' + err.message);
    process.exit(1);
  },
);
