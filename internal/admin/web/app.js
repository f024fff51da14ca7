// Janus dashboard: reads the admin API, follows /api/events (Server-Sent
// Events, read with fetch so that credentials go in a header, as
// EventSource cannot send them), draws the charts on canvases. No
// libraries, nothing loaded from elsewhere.
"use strict";

const FACES = ["forward", "reverse"];
const WINDOW = 120; // seconds shown in the charts
const TAIL_MAX = 300;
const CLASS_COLORS = { "2xx": "#3fb950", "3xx": "#58a6ff", "4xx": "#d29922", "5xx": "#f85149", tunnel: "#bc8cff" };

const $ = (id) => document.getElementById(id);
const state = {
  auth: sessionStorage.getItem("janus-auth") || "",
  // series[face] = {t: [unix seconds], requests: [], bytes: []}
  series: {},
  tail: [],
  ticks: 0,
  entries: 0,
  quotas: [],
};
window.janus = state; // read by the browser tests

for (const f of FACES) state.series[f] = { t: [], requests: [], bytes: [] };

// --- formatting -------------------------------------------------------------

function fmtBytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? Math.round(n) : n.toFixed(1)) + " " + u[i];
}
function fmtNum(n) { return n >= 100 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1); }
function fmtMS(n) { return n >= 100 ? Math.round(n) + "" : n.toFixed(n >= 10 ? 1 : 2); }
function fmtAgo(iso) {
  const t = Date.parse(iso);
  if (!t || t < 0) return "–";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m ago";
  if (s < 86400) return Math.floor(s / 3600) + "h ago";
  return Math.floor(s / 86400) + "d ago";
}
// fmtSpan says how long s seconds are, in the two largest units.
function fmtSpan(s) {
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor(s % 3600 / 60) + "m";
  return Math.floor(s / 86400) + "d " + Math.floor(s % 86400 / 3600) + "h";
}
function fmtUntil(iso) {
  const t = Date.parse(iso);
  if (!t) return "–";
  return "in " + fmtSpan(Math.max(0, Math.round((t - Date.now()) / 1000)));
}
function fmtTime(iso) { const d = new Date(iso); return isNaN(d) ? "" : d.toLocaleTimeString(); }
function fmtUptime(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
}

// el builds an element; cells are text, never HTML (entries carry what
// clients sent).
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function row(cells, cls) {
  const tr = el("tr", cls);
  for (const c of cells) {
    if (c instanceof Node) { const td = el("td"); td.appendChild(c); tr.appendChild(td); continue; }
    const [text, tdcls] = Array.isArray(c) ? c : [c, ""];
    tr.appendChild(el("td", tdcls, String(text)));
  }
  return tr;
}
function fill(tableId, rows) {
  const tb = $(tableId).tBodies[0];
  tb.replaceChildren(...rows);
}

// --- API --------------------------------------------------------------------

async function api(path, opts = {}) {
  const headers = Object.assign({ "X-Janus-Dashboard": "1" }, opts.headers || {});
  if (state.auth) headers["Authorization"] = state.auth;
  const resp = await fetch(path, Object.assign({}, opts, { headers, cache: "no-store" }));
  if (resp.status === 401) { showLogin(true); throw new Error("401"); }
  return resp;
}
async function getJSON(path) {
  const resp = await api(path);
  const body = await resp.json();
  if (!resp.ok) { const e = new Error(body.error || resp.statusText); e.status = resp.status; throw e; }
  return body;
}

function showLogin(on) { $("login").classList.toggle("hidden", !on); }

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const tok = $("login-token").value.trim();
  const user = $("login-user").value;
  state.auth = tok ? "Bearer " + tok : "Basic " + btoa(unescape(encodeURIComponent(user + ":" + $("login-pass").value)));
  sessionStorage.setItem("janus-auth", state.auth);
  showLogin(false);
  refreshAll();
  connect();
});

// --- charts -----------------------------------------------------------------

function pushPoint(face, t, requests, bytes) {
  const s = state.series[face];
  if (s.t.length && s.t[s.t.length - 1] >= t) return; // seen already
  // Seconds with no tick (a reconnect) count as zero.
  while (s.t.length && s.t[s.t.length - 1] < t - 1 && t - s.t[s.t.length - 1] < WINDOW) {
    const last = s.t[s.t.length - 1] + 1;
    s.t.push(last); s.requests.push(0); s.bytes.push(0);
  }
  s.t.push(t); s.requests.push(requests); s.bytes.push(bytes);
  while (s.t.length > WINDOW) { s.t.shift(); s.requests.shift(); s.bytes.shift(); }
}

function drawChart(face) {
  const c = $("chart-" + face);
  const dpr = window.devicePixelRatio || 1;
  const w = c.clientWidth || 600, h = c.clientHeight || 140;
  if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
  const g = c.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const s = state.series[face];
  const pad = 4;
  g.strokeStyle = "#2a3642"; g.lineWidth = 1;
  for (let i = 1; i < 4; i++) { const y = Math.round(h * i / 4) + .5; g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke(); }
  const line = (vals, color, label, fmt) => {
    const max = Math.max(1, ...vals);
    g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
    vals.forEach((v, i) => {
      const x = w - (vals.length - 1 - i) * (w / (WINDOW - 1));
      const y = h - pad - (v / max) * (h - 2 * pad);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
    g.fillStyle = color; g.font = "11px system-ui, sans-serif";
    return label + " max " + fmt(max);
  };
  const a = line(s.requests, "#58a6ff", "req/s", fmtNum);
  const b = line(s.bytes, "#bc8cff", "bytes/s", fmtBytes);
  g.fillStyle = "#8a97a5"; g.font = "11px system-ui, sans-serif";
  g.fillText(a + " · " + b, 6, 13);
}

function drawMix(face, classes) {
  const box = $("mix-" + face);
  const total = Object.values(classes).reduce((x, y) => x + y, 0);
  box.replaceChildren();
  box.title = Object.entries(classes).map(([k, v]) => k + ": " + v).join(", ") || "no requests";
  if (!total) return;
  for (const [k, v] of Object.entries(classes).sort()) {
    const s = el("span");
    s.style.width = (100 * v / total) + "%";
    s.style.background = CLASS_COLORS[k] || "#8a97a5";
    s.title = k + ": " + v;
    s.dataset.cls = k;
    box.appendChild(s);
  }
}

// --- live stream --------------------------------------------------------------

function onTick(tick) {
  state.ticks++;
  const t = Math.floor(Date.parse(tick.time) / 1000);
  for (const f of FACES) {
    const tf = tick.faces[f];
    if (!tf) continue;
    pushPoint(f, t, tf.requests, tf.bytes_in + tf.bytes_out);
    $("rps-" + f).textContent = fmtNum(tf.requests);
    $("bin-" + f).textContent = fmtBytes(tf.bytes_in);
    $("bout-" + f).textContent = fmtBytes(tf.bytes_out);
    if (tf.requests) {
      const l = tf.latency;
      $("lat-" + f).textContent = fmtMS(l.p50_ms) + " / " + fmtMS(l.p90_ms) + " / " + fmtMS(l.p99_ms) + " ms";
    }
    drawChart(f);
  }
}

function classOf(e) {
  if (e.denied) return "denied";
  if (e.error) return "error";
  return e.class;
}

function tailMatches(e) {
  const q = $("tail-contains").value.trim().toLowerCase();
  const face = $("tail-face").value, cls = $("tail-class").value;
  if (face && e.face !== face) return false;
  if (cls === "limited") { if (!e.limited) return false; }
  else if (cls && classOf(e) !== cls && e.class !== cls) return false;
  if (q) {
    const hay = [e.target, e.user, e.client, e.rule, e.listener, e.method, String(e.status)].join(" ").toLowerCase();
    if (!hay.includes(q)) return false;
  }
  return true;
}

function tailRow(e) {
  const cls = "c" + e.class + (e.denied ? " denied" : "") + (e.error ? " err" : "");
  const tr = row([fmtTime(e.time), e.listener, e.client, e.user || "", e.protocol, e.method || "", e.target,
    [e.status + (e.rule && e.denied ? " (" + e.rule + ")" : ""), "st"], [fmtBytes(e.bytes_in + e.bytes_out), "num"], [fmtMS(e.duration_ms), "num"]], cls);
  if (e.error) tr.title = e.error;
  return tr;
}

function renderTail() {
  const rows = [];
  for (let i = state.tail.length - 1; i >= 0 && rows.length < 200; i--) {
    if (tailMatches(state.tail[i])) rows.push(tailRow(state.tail[i]));
  }
  fill("tail", rows);
  $("tail-count").textContent = rows.length + " shown of " + state.tail.length;
}

let tailDirty = false;
function onEntry(e) {
  state.entries++;
  state.tail.push(e);
  if (state.tail.length > TAIL_MAX) state.tail.shift();
  tailDirty = true;
}
setInterval(() => { if (tailDirty && !$("tail-pause").checked) { tailDirty = false; renderTail(); } }, 250);
for (const id of ["tail-contains", "tail-face", "tail-class"]) $(id).addEventListener("input", renderTail);
$("tail-filter").addEventListener("submit", (ev) => ev.preventDefault());

let streamAbort = null;
async function connect() {
  if (streamAbort) streamAbort.abort();
  const ctl = new AbortController();
  streamAbort = ctl;
  try {
    const resp = await api("/api/events", { signal: ctl.signal });
    if (!resp.ok || !resp.body) throw new Error("events: " + resp.status);
    $("conn").className = "dot on";
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i); buf = buf.slice(i + 2);
        let type = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) type = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (!data) continue;
        const ev = JSON.parse(data);
        if (type === "tick") onTick(ev.tick);
        else if (type === "entry") onEntry(ev.entry);
      }
    }
  } catch (err) {
    if (ctl.signal.aborted) return;
  }
  $("conn").className = "dot off";
  if (streamAbort === ctl) setTimeout(connect, 2000);
}

// --- polled views ---------------------------------------------------------------

async function refreshStatus() {
  const s = await getJSON("/api/status");
  $("version").textContent = s.version;
  $("generation").textContent = s.generation;
  $("uptime").textContent = fmtUptime(s.uptime_seconds);
  $("config-file").textContent = s.config_file;
}

async function refreshLive() {
  const snap = await getJSON("/api/live");
  for (const f of FACES) {
    const fs = snap.faces[f];
    $("total-" + f).textContent = fs.last_10m.requests;
    drawMix(f, fs.last_1m.classes || {});
    if (!state.series[f].t.length) {
      // First load: the last WINDOW seconds of the snapshot's series.
      const sr = fs.series;
      for (let i = Math.max(0, sr.len - WINDOW); i < sr.len; i++) {
        pushPoint(f, sr.start + i * sr.step, sr.requests[i], sr.bytes_in[i] + sr.bytes_out[i]);
      }
      drawChart(f);
    }
  }
  fill("top-dest", (snap.top_destinations || []).map((t) => row([t.key, [t.requests, "num"], [fmtBytes(t.bytes), "num"]])));
  fill("top-users", (snap.top_users || []).map((t) => row([t.key, [t.requests, "num"], [fmtBytes(t.bytes), "num"]])));
  fill("denials", (snap.recent_denials || []).slice(0, 50).map((e) => row([fmtTime(e.time), e.client, e.target, e.rule || ""])));
  renderLimited(snap.limited_clients || []);
  if (!state.tail.length && snap.tail) {
    for (const e of snap.tail.slice().reverse()) state.tail.push(e);
    renderTail();
  }
}

// --- limits and quotas ------------------------------------------------------------

function renderLimited(list) {
  const rows = list.map((c) => {
    const tr = row([c.client, c.user || "", c.rule, [c.count + (c.error ? "+" : ""), "num"], fmtAgo(c.last)]);
    tr.dataset.client = c.client;
    tr.dataset.user = c.user || "";
    tr.lastChild.title = c.last + " (status " + c.status + ")";
    if (c.error) tr.cells[3].title = "at most " + (c.count + c.error);
    return tr;
  });
  if (!rows.length) rows.push(row([["no client refused by a limit in the last 10 minutes", "muted"]]));
  fill("limited", rows);
}

function quotaRow(q) {
  const frac = q.limit > 0 ? Math.max(0, q.used) / q.limit : 0;
  const box = el("div", "quota" + (q.over ? " over" : frac >= 0.8 ? " near" : ""));
  box.dataset.account = q.account;
  box.dataset.over = q.over ? "1" : "0";
  const head = el("div", "head");
  head.append(el("span", "acct", q.account), el("span", "muted", q.plan),
    el("span", "use", fmtBytes(Math.max(0, q.used)) + " / " + fmtBytes(q.limit) + " · " + Math.round(100 * frac) + " %" + (q.over ? " · over" : "")));
  const bar = el("div", "bar");
  bar.setAttribute("role", "meter");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", String(q.limit));
  bar.setAttribute("aria-valuenow", String(Math.max(0, q.used)));
  const fillEl = el("span", "fill");
  fillEl.style.width = Math.min(100, 100 * frac) + "%";
  bar.appendChild(fillEl);
  const reset = el("div", "reset", q.reset ? "room again " + fmtUntil(q.reset) + " (" + new Date(q.reset).toLocaleString() + ")" : "a balance: no reset");
  box.append(head, bar, reset);
  return box;
}

async function refreshQuotas() {
  const { quotas } = await getJSON("/api/quotas");
  state.quotas = quotas;
  $("quotas-none").classList.toggle("hidden", quotas.length > 0);
  $("credit-form").classList.toggle("hidden", quotas.length === 0);
  $("quotas").replaceChildren(...quotas.map(quotaRow));
  // Keep the chosen account while the list stays the same.
  const sel = $("credit-account");
  const names = quotas.map((q) => q.account);
  if ([...sel.options].map((o) => o.value).join() !== names.join()) {
    const keep = sel.value;
    sel.replaceChildren(...names.map((n) => { const o = el("option", "", n); o.value = n; return o; }));
    if (names.includes(keep)) sel.value = keep;
  }
}

$("credit-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const bytes = Math.round(Number($("credit-amount").value) * Number($("credit-unit").value));
  const body = { account: $("credit-account").value, bytes };
  try {
    const resp = await api("/api/quotas/credit", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
    const res = await resp.json();
    if (resp.ok) result("credit-result", true, "credited " + fmtBytes(bytes) + " to " + res.account + ": " + fmtBytes(Math.max(0, res.used)) + " used of " + fmtBytes(res.limit));
    else result("credit-result", false, res.error);
  } catch (err) { result("credit-result", false, String(err.message || err)); }
  refreshQuotas().catch(() => {});
});

async function refreshUpstreams() {
  const u = await getJSON("/api/upstreams");
  const rows = [];
  for (const p of u.pools) {
    for (const t of p.targets) {
      const st = el("span", "state " + t.state, t.state + (t.slow_start ? " (warming)" : ""));
      const tr = row([p.name, t.target, st, [t.in_flight, "num"], [fmtMS(t.latency_ms) + " ms", "num"], [t.failures, "num"], [t.ejections, "num"], fmtAgo(t.last_change)]);
      tr.dataset.target = t.target;
      tr.dataset.state = t.state;
      tr.lastChild.title = t.last_change;
      rows.push(tr);
    }
  }
  if (!rows.length) rows.push(row([["no upstream pools", "muted"]]));
  fill("upstreams", rows);
}

async function refreshListeners() {
  const l = await getJSON("/api/listeners");
  fill("listeners", l.listeners.map((x) => {
    const tr = row([x.name, x.address, x.protocols.join(", ") + (x.tls ? " (TLS)" : ""), [x.connections, "num"], [x.tunnels, "num"]]);
    tr.dataset.listener = x.name;
    return tr;
  }));
}

async function refreshCache() {
  try {
    const c = await getJSON("/api/cache");
    $("cache-off").classList.add("hidden");
    $("cache-on").classList.remove("hidden");
    $("cache-ratio").textContent = (100 * c.hit_ratio).toFixed(1) + " %";
    $("cache-hits").textContent = c.hits + " / " + c.misses;
    $("cache-objects").textContent = c.memory_objects + c.disk_objects;
    $("cache-size").textContent = fmtBytes(c.memory_bytes + c.disk_bytes);
  } catch (err) {
    if (err.status !== 404) throw err;
    $("cache-off").classList.remove("hidden");
    $("cache-on").classList.add("hidden");
  }
}

async function refreshConfig() {
  const c = await getJSON("/api/config");
  $("config").textContent = c.yaml;
}

function result(id, ok, text) {
  const r = $(id);
  r.className = "result " + (ok ? "ok" : "bad");
  r.textContent = text;
}

$("purge-kind").addEventListener("change", () => {
  $("purge-value").placeholder = { url: "http://example.com/page", prefix: "http://example.com/images/", tag: "product-42" }[$("purge-kind").value];
});
$("purge-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = {};
  body[$("purge-kind").value] = $("purge-value").value.trim();
  try {
    const resp = await api("/api/cache/purge", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
    const res = await resp.json();
    if (resp.ok) result("purge-result", true, "purged " + res.purged + (res.purged === 1 ? " entry" : " entries"));
    else result("purge-result", false, res.error);
  } catch (err) { result("purge-result", false, String(err.message || err)); }
  refreshCache().catch(() => {});
});

$("reload-btn").addEventListener("click", async () => {
  const btn = $("reload-btn");
  btn.disabled = true;
  try {
    const resp = await api("/api/reload", { method: "POST" });
    const res = await resp.json();
    if (resp.ok && res.ok) result("reload-result", true, "reloaded: generation " + res.generation);
    else result("reload-result", false, "reload failed, the running config keeps serving:\n" + (res.error || resp.statusText));
  } catch (err) { result("reload-result", false, String(err.message || err)); }
  btn.disabled = false;
  refreshAll();
});

function refreshAll() {
  for (const f of [refreshStatus, refreshLive, refreshUpstreams, refreshListeners, refreshCache, refreshQuotas, refreshConfig]) {
    f().catch(() => {});
  }
}

refreshAll();
connect();
setInterval(() => {
  if (document.hidden) return;
  for (const f of [refreshStatus, refreshLive, refreshUpstreams, refreshListeners, refreshCache, refreshQuotas]) f().catch(() => {});
}, 2000);
window.addEventListener("resize", () => FACES.forEach(drawChart));
