import { createHash } from 'node:crypto';

// The dashboard page: one self-contained document (inline CSS and script, nothing fetched but
// `<path>/data` from its own origin). Every value from the server (room names, error labels,
// node ids) is written with `textContent`, never parsed as HTML. The script and style are
// constant, so the Content-Security-Policy allows exactly them by hash.

const STYLE = `
:root{color-scheme:light dark;--b:#8884;--m:#888}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:12px 16px}
header{display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
h1{font-size:18px;margin:0}h2{font-size:14px;margin:0 0 6px}
#status{color:var(--m)}#status.bad{color:#d33}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px;margin-top:12px}
section{border:1px solid var(--b);border-radius:6px;padding:8px 10px;min-width:0}
section.wide{grid-column:1/-1}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:2px 6px;border-bottom:1px solid var(--b);overflow-wrap:anywhere}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.note{color:var(--m);font-size:12px;margin:4px 0 0}
tr[data-status=ok] .st{color:#2a2}tr[data-status="no answer"] .st{color:#d33}
`;

const SCRIPT = `
(function () {
  'use strict';
  var base = location.pathname.replace(/\\/+$/, '');
  var url = base + '/data';
  var EVERY = 1000;
  var last = new Map();
  function $(id) { return document.getElementById(id); }
  function num(n) { return typeof n === 'number' && isFinite(n) ? n : 0; }
  function int(n) { return Math.round(num(n)).toLocaleString('en'); }
  function perSec(r) { return r === null ? '\\u2013' : (r < 10 ? r.toFixed(1) : Math.round(r).toLocaleString('en')); }
  function bytes(n) {
    n = num(n);
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(1)) + ' ' + u[i];
  }
  function byteRate(r) { return r === null ? '\\u2013' : bytes(r) + '/s'; }
  function sum(rec) { var s = 0; for (var k in rec) s += num(rec[k]); return s; }
  function duration(ms) {
    var s = Math.floor(num(ms) / 1000), d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    return d > 0 ? d + 'd ' + h + 'h' : h > 0 ? h + 'h ' + m + 'm' : m + 'm ' + (s % 60) + 's';
  }
  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function rows(id, list, make) {
    var body = $(id);
    var out = [];
    for (var i = 0; i < list.length; i++) { var tr = document.createElement('tr'); make(tr, list[i]); out.push(tr); }
    body.replaceChildren.apply(body, out);
  }
  function pairs(id, list) {
    rows(id, list, function (tr, p) { cell(tr, p[0]); var td = cell(tr, p[1], 'n'); if (p[2]) td.id = p[2]; });
  }
  // Rates from successive counters of one node, over its own uptime (monotonic, per node).
  function ratesOf(id, s) {
    var p = last.get(id);
    var c = { t: num(s.uptimeMs), mi: num(s.messages.in), mo: num(s.messages.out), bi: num(s.bytes.in), bo: num(s.bytes.out), err: s.errors || {}, buf: num(s.backpressure.buffered), drop: num(s.backpressure.dropped) };
    var r = p ? p.r : null;
    if (!p || c.t < p.c.t) r = null;
    else if (c.t > p.c.t) {
      var dt = (c.t - p.c.t) / 1000;
      var d = function (a, b) { return Math.max(0, a - b) / dt; };
      var err = {};
      for (var k in c.err) err[k] = d(num(c.err[k]), num(p.c.err[k]));
      r = { mi: d(c.mi, p.c.mi), mo: d(c.mo, p.c.mo), bi: d(c.bi, p.c.bi), bo: d(c.bo, p.c.bo), err: err, errAll: d(sum(c.err), sum(p.c.err)), buf: d(c.buf, p.c.buf), drop: d(c.drop, p.c.drop) };
    } else return r;
    last.set(id, { c: c, r: r });
    return r;
  }
  function render(d) {
    var s = d.stats, c = s.connections, r = ratesOf(d.nodeId, s);
    $('node').textContent = 'node ' + d.nodeId + ' \\u00b7 up ' + duration(s.uptimeMs);
    pairs('conn', [['open', int(c.open), 'conn-open'], ['opening', int(c.opening)], ['accepted since start', int(c.total), 'conn-total'], ['rejected', int(c.rejected), 'conn-rejected']]);
    var tr = Object.keys(c.byTransport).sort();
    rows('transports', tr, function (row, t) { row.dataset.transport = t; cell(row, t); cell(row, int(c.byTransport[t]), 'n'); });
    pairs('traffic', [
      ['messages in', perSec(r && r.mi) + '/s', 'msg-in-rate'], ['messages out', perSec(r && r.mo) + '/s', 'msg-out-rate'],
      ['bytes in', byteRate(r && r.bi), 'bytes-in-rate'], ['bytes out', byteRate(r && r.bo), 'bytes-out-rate'],
      ['messages in (total)', int(s.messages.in), 'msg-in'], ['messages out (total)', int(s.messages.out), 'msg-out'],
    ]);
    var rm = d.rooms;
    $('rooms-count').textContent = int(s.rooms) + ' room' + (s.rooms === 1 ? '' : 's') + ' with members on this node';
    rows('rooms', rm.top, function (row, x) { row.dataset.room = x.name; cell(row, x.name + (x.truncated ? '\\u2026' : '')); cell(row, int(x.members), 'n'); });
    $('rooms-note').textContent = 'Top ' + rm.limit + ' by members, from a scan of ' + int(rm.scanned) + ' connection(s) taken ' + (rm.ageMs / 1000).toFixed(1) + ' s ago in ' + rm.scanMs.toFixed(1) + ' ms (refreshed at most every ' + (rm.everyMs / 1000).toFixed(1) + ' s).';
    var labels = Object.keys(s.errors).sort(function (a, b) { return (r && r.err[b] || 0) - (r && r.err[a] || 0) || s.errors[b] - s.errors[a] || (a < b ? -1 : 1); });
    rows('errors', labels, function (row, k) { row.dataset.code = k; cell(row, k); cell(row, perSec(r ? r.err[k] || 0 : null), 'n'); cell(row, int(s.errors[k]), 'n'); });
    $('errors-note').textContent = labels.length ? labels.length + (labels.length === 1 ? ' label; ' : ' labels (all); ') + perSec(r && r.errAll) + ' errors/s in all' : 'no errors counted';
    var bp = s.backpressure, a = s.acks;
    pairs('bp', [
      ['sends above the high-water mark', int(bp.buffered) + ' (' + perSec(r && r.buf) + '/s)', 'bp-buffered'],
      ['volatile messages dropped', int(bp.dropped) + ' (' + perSec(r && r.drop) + '/s)'],
      ['slow-consumer disconnects', int(bp.slowConsumerDisconnects), 'bp-slow'],
      ['requests awaiting clients', int(a.pending)], ['requests timed out', int(a.timedOut)], ['handlers in flight', int(a.inFlightHandlers)],
      ['rate-limit hits', int(s.rateLimit.hits)], ['rate-limit disconnects', int(s.rateLimit.disconnects)],
    ]);
    rows('slow', d.slow, function (row, x) { row.dataset.conn = x.id; cell(row, x.id); cell(row, x.transport); cell(row, bytes(x.buffered), 'n'); cell(row, int(x.pendingRequests), 'n'); });
    $('slow-note').textContent = d.slow.length ? 'from the same scan as the rooms' : 'no connection has bytes queued (as of the last scan)';
    var ad = Object.keys(s.adapter).sort();
    $('adapter-section').hidden = ad.length === 0;
    pairs('adapter', ad.map(function (k) { return [k, int(s.adapter[k])]; }));
    var cl = d.cluster;
    $('cluster').hidden = !cl;
    if (cl) {
      rows('nodes', cl.nodes, function (row, n) {
        row.dataset.node = n.id;
        row.dataset.status = n.status;
        var ns = n.stats, nr = ns ? ratesOf(n.id, ns) : null;
        cell(row, n.id + (n.self ? ' (this node)' : ''));
        cell(row, n.status + (n.ageMs !== null && !n.self ? ' (' + (n.ageMs / 1000).toFixed(1) + ' s ago)' : ''), 'st');
        cell(row, ns ? Object.keys(ns.connections.byTransport).sort().map(function (t) { return t + ' ' + int(ns.connections.byTransport[t]); }).join(', ') || '0' : '\\u2013');
        cell(row, ns ? perSec(nr && nr.mi) : '\\u2013', 'n');
        cell(row, ns ? perSec(nr && nr.mo) : '\\u2013', 'n');
        cell(row, ns ? perSec(nr && nr.errAll) : '\\u2013', 'n');
        cell(row, ns ? int(ns.rooms) : '\\u2013', 'n');
        cell(row, ns ? duration(ns.uptimeMs) : '\\u2013', 'n');
      });
      $('cluster-note').textContent = cl.nodeCount + ' node(s) known to the adapter' + (cl.omitted ? '; ' + cl.omitted + ' not shown' : '') + (cl.error ? '; last error: ' + cl.error : '');
    }
  }
  function status(text, bad) { var el = $('status'); el.textContent = text; el.className = bad ? 'bad' : ''; }
  function poll() {
    fetch(url, { credentials: 'same-origin', cache: 'no-store', headers: { accept: 'application/json' } }).then(function (res) {
      if (res.status === 401 || res.status === 403) throw new Error('not authorized (HTTP ' + res.status + '): log in again');
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(function (d) {
      render(d);
      status('updated ' + new Date(d.time).toLocaleTimeString(), false);
    }).catch(function (e) {
      status(String(e && e.message || e), true);
    }).then(function () { setTimeout(poll, EVERY); });
  }
  poll();
})();
`;

const BODY = `<header><h1>Stelar</h1><span id="node"></span><span id="status">loading\u2026</span></header>
<main>
<section><h2>Connections</h2><table><tbody id="conn"></tbody></table>
<table><thead><tr><th>transport</th><th class="n">open</th></tr></thead><tbody id="transports"></tbody></table></section>
<section><h2>Traffic</h2><table><tbody id="traffic"></tbody></table></section>
<section><h2>Rooms</h2><p id="rooms-count"></p>
<table><thead><tr><th>room</th><th class="n">members</th></tr></thead><tbody id="rooms"></tbody></table><p class="note" id="rooms-note"></p></section>
<section><h2>Errors</h2><table><thead><tr><th>code</th><th class="n">per s</th><th class="n">total</th></tr></thead><tbody id="errors"></tbody></table><p class="note" id="errors-note"></p></section>
<section><h2>Backpressure and requests</h2><table><tbody id="bp"></tbody></table>
<h2>Most buffered connections</h2><table><thead><tr><th>connection</th><th>transport</th><th class="n">buffered</th><th class="n">requests</th></tr></thead><tbody id="slow"></tbody></table><p class="note" id="slow-note"></p></section>
<section id="adapter-section" hidden><h2>Adapter</h2><table><tbody id="adapter"></tbody></table></section>
<section id="cluster" class="wide" hidden><h2>Nodes</h2>
<table><thead><tr><th>node</th><th>status</th><th>open by transport</th><th class="n">msg in/s</th><th class="n">msg out/s</th><th class="n">errors/s</th><th class="n">rooms</th><th class="n">up</th></tr></thead><tbody id="nodes"></tbody></table><p class="note" id="cluster-note"></p></section>
</main>`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer">
<title>Stelar dashboard</title><style>${STYLE}</style></head>
<body>${BODY}<script>${SCRIPT}</script></body></html>
`;

/** Only the page's own script and style run; it may fetch from its origin only; nothing may frame it. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
