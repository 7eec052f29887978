// Drives mixpanel-browser against arb for one scenario (see index.html).
// It never talks to the database: the Go test checks what arb stored.
// The page only watches the SDK's own requests (by wrapping
// XMLHttpRequest and navigator.sendBeacon) to know when it is finished,
// and records what the browser saw of arb's replies.
(function () {
	'use strict';

	var params = new URLSearchParams(location.search);
	var scenario = params.get('scenario') || '';
	var arb = (params.get('arb') || '').replace(/\/+$/, '');
	var token = params.get('token') || '';
	// Page time (Chromium's virtual time when the test fast-forwards it).
	var pageStart = Date.now();

	var log = {
		scenario: scenario,
		requests: [],   // XHRs to arb: method, url, body, status, response,
		                // sentMs and doneMs (page time, from pageStart)
		beacons: [],    // navigator.sendBeacon calls: url, body, result
		callbacks: [],  // what track() callbacks received
		resend: null,   // the repeated request of the "resend" scenario
		distinctIds: [],
		reports: [],    // what the SDK passed to error_reporter: ms (page time), msg
		errors: [],
		done: false
	};
	var logEl = document.getElementById('log');

	function publish() {
		logEl.textContent = JSON.stringify(log);
	}

	function fail(msg) {
		log.errors.push(String(msg));
		publish();
	}

	function finish() {
		if (log.done) {
			return;
		}
		log.done = true;
		publish();
		document.title = 'done:' + scenario;
	}

	window.addEventListener('error', function (e) {
		fail('uncaught: ' + e.message);
	});

	// eventsOf decodes the events a request to arb carries: data= in the
	// query string or in a form/text body, base64 or raw JSON.
	function eventsOf(url, body) {
		var data = null;
		var qi = url.indexOf('?');
		if (qi >= 0) {
			data = new URLSearchParams(url.slice(qi + 1)).get('data');
		}
		if (data === null && typeof body === 'string') {
			data = new URLSearchParams(body).get('data');
		}
		if (data === null) {
			return [];
		}
		try {
			var v = JSON.parse(/^\s*[\[{]/.test(data) ? data : atob(data));
			return Array.isArray(v) ? v : [v];
		} catch (e) {
			fail('undecodable payload in ' + url + ': ' + e);
			return [];
		}
	}

	function isTrack(url) {
		return url.indexOf(arb + '/track') === 0;
	}

	// ours counts the events of this scenario a request carries.
	function ours(events) {
		var n = 0;
		events.forEach(function (ev) {
			var p = ev && ev.properties;
			if (p && p.scenario === scenario) {
				n++;
			}
		});
		return n;
	}

	// Wrap XMLHttpRequest so every request the SDK makes to arb is seen
	// with its body and reply.
	var origOpen = XMLHttpRequest.prototype.open;
	var origSend = XMLHttpRequest.prototype.send;
	XMLHttpRequest.prototype.open = function (method, url) {
		this.__arb = {method: String(method), url: String(url)};
		return origOpen.apply(this, arguments);
	};
	XMLHttpRequest.prototype.send = function (body) {
		var xhr = this;
		var rec = xhr.__arb;
		if (rec && !xhr.__arbResend && rec.url.indexOf(arb + '/') === 0) {
			rec.body = body === undefined || body === null ? null : String(body);
			rec.sentMs = Date.now() - pageStart;
			log.requests.push(rec);
			xhr.addEventListener('loadend', function () {
				rec.doneMs = Date.now() - pageStart;
				rec.status = xhr.status;
				rec.response = xhr.responseText;
				publish();
				onResponse(rec);
			});
		}
		return origSend.apply(this, arguments);
	};

	// Record sendBeacon calls (the SDK looks navigator.sendBeacon up at
	// each call, so wrapping it here is seen).
	if (navigator.sendBeacon) {
		var origBeacon = navigator.sendBeacon;
		navigator.sendBeacon = function (url, body) {
			var ok = origBeacon.apply(navigator, arguments);
			log.beacons.push({url: String(url), body: typeof body === 'string' ? body : null, result: ok});
			publish();
			return ok;
		};
	}

	var expected = 3;   // events with properties.scenario each scenario tracks
	var acknowledged = 0; // of them, carried by requests arb answered 200
	// "shed": the server sheds load, so the SDK sees 503s and retries the
	// same events; what counts is each event acknowledged once at least.
	var ackedIds = {};

	function onResponse(rec) {
		if (scenario === 'shed' && isTrack(rec.url) && rec.status === 503) {
			return; // the SDK retries it; the Go test checks the log
		}
		if (!isTrack(rec.url) || rec.status !== 200) {
			if (rec.status !== 200) {
				fail(rec.method + ' ' + rec.url + ': HTTP status ' + rec.status);
			}
			return;
		}
		var evs = eventsOf(rec.url, rec.body);
		var n = ours(evs);
		if (n === 0) {
			return;
		}
		if (scenario === 'shed') {
			evs.forEach(function (ev) {
				var p = ev && ev.properties;
				if (p && p.scenario === scenario && !ackedIds[p.$insert_id]) {
					ackedIds[p.$insert_id] = true;
					acknowledged++;
				}
			});
			if (acknowledged >= expected) {
				// Nothing left to send: stop the SDK's flush timer so the
				// rest of the virtual time budget passes at once.
				mixpanel.stop_batch_senders();
				finish();
			}
			return;
		}
		acknowledged += n;
		if (scenario === 'resend' && log.resend === null) {
			resend(rec);
			return;
		}
		if (acknowledged >= expected && scenario !== 'resend') {
			finish();
		}
	}

	// resend posts the exact request the SDK made once more, as the SDK
	// itself does after a timeout or on page unload.
	function resend(rec) {
		log.resend = {method: rec.method, url: rec.url, body: rec.body, events: ours(eventsOf(rec.url, rec.body))};
		publish();
		var xhr = new XMLHttpRequest();
		xhr.__arbResend = true;
		xhr.open(rec.method, rec.url, true);
		xhr.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
		xhr.withCredentials = true;
		xhr.addEventListener('loadend', function () {
			log.resend.status = xhr.status;
			log.resend.response = xhr.responseText;
			if (xhr.status !== 200) {
				fail('resend: HTTP status ' + xhr.status);
			}
			finish();
		});
		xhr.send(rec.body);
	}

	function callback(i) {
		return function (res) {
			log.callbacks.push({i: i, result: res});
			publish();
			if (scenario === 'beacon' && log.callbacks.length === expected) {
				// sendBeacon reports nothing back: done once it has
				// accepted every event; the Go test polls arb.
				finish();
			}
		};
	}

	var config = {
		api_host: arb,
		loaded: function () {},
		error_reporter: function (msg) {
			log.reports.push({ms: Date.now() - pageStart, msg: String(msg)});
		}
	};
	switch (scenario) {
	case 'batch':
	case 'identify':
	case 'resend':
		break; // the defaults: batch_requests true, POST, XHR, base64
	case 'nobatch':
		config.batch_requests = false;
		break;
	case 'get':
		config.batch_requests = false;
		config.api_method = 'GET';
		break;
	case 'json':
		config.api_payload_format = 'json';
		break;
	case 'beacon':
		config.batch_requests = false;
		config.api_transport = 'sendBeacon';
		break;
	case 'shed':
		// The defaults (batches of 50), for events=N events (default 200)
		// sent to a server that sheds load (browser_shedding_test.go).
		expected = parseInt(params.get('events') || '200', 10);
		break;
	default:
		fail('unknown scenario ' + JSON.stringify(scenario));
		finish();
		return;
	}
	if (typeof mixpanel === 'undefined') {
		fail('mixpanel.umd.js did not load');
		finish();
		return;
	}
	mixpanel.init(token, config);

	if (scenario === 'identify') {
		mixpanel.track('Anon A', {scenario: scenario, step: 1}, callback(1));
		mixpanel.track('Anon B', {scenario: scenario, step: 2}, callback(2));
		log.distinctIds.push(mixpanel.get_distinct_id());
		mixpanel.identify('alice');
		mixpanel.track('Known C', {scenario: scenario, step: 3}, callback(3));
		log.distinctIds.push(mixpanel.get_distinct_id());
	} else if (scenario === 'shed') {
		for (var s = 1; s <= expected; s++) {
			mixpanel.track('Shed', {scenario: scenario, seq: s});
		}
		log.distinctIds.push(mixpanel.get_distinct_id());
	} else {
		for (var i = 1; i <= expected; i++) {
			mixpanel.track('Event ' + i, {scenario: scenario, step: i, nested: {n: i}}, callback(i));
		}
		log.distinctIds.push(mixpanel.get_distinct_id());
	}
	publish();
})();
