// The cache dashboard: polls /v1/kvspill/stats every second, shows the counters and the
// rates computed from their deltas, and keeps five minutes of samples for the plots.
// On the router the same endpoint answers with one row per replica (its health, share of
// the routed requests and its own stats): the page lists them and shows one replica's
// cache below, the one chosen in the selector.
"use strict";

const $ = (id) => document.getElementById(id);
const PERIOD_MS = 1000, WINDOW_S = 300;
const SVG = "http://www.w3.org/2000/svg";
let prev = null;
let shownUrl = null; // on the router: the replica whose cache the page shows
const samples = []; // {t, load, store, cached, computed}

const pct = (x) => (100 * x).toFixed(1) + " %";
const gb = (b) => (b / 1e9).toFixed(b < 1e8 ? 3 : 2) + " GB";
const ms = (h) => (h.count ? (1000 * h.sum / h.count).toFixed(1) + " ms" : "–");

function tierRows(st) {
  const tbody = $("tiers");
  if (!st.tiers.length) return;
  tbody.textContent = "";
  const dt = prev ? st.time - prev.time : 0;
  for (const t of st.tiers) {
    const p = prev && prev.tiers.find((x) => x.name === t.name);
    const rate = (f) => (p && dt > 0 ? ((t[f] - p[f]) / dt / 1e9).toFixed(3) : "–");
    const row = [SOURCE_NAMES[t.name] ? SOURCE_NAMES[t.name] + " (" + t.name + ")" : t.name,
      gb(t.used_bytes) + " / " + (t.capacity_bytes ? gb(t.capacity_bytes) : "–"),
      t.objects, t.hits, t.misses, pct(t.hit_rate), rate("read_bytes"), rate("written_bytes"),
      t.stores, t.evictions, t.damaged_objects];
    const tr = document.createElement("tr");
    tr.dataset.tier = t.name;
    cells(tr, row);
    tbody.append(tr);
  }
}

function el(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// Two series over the window, on a shared scale from 0.
function linePlot(svg, a, b, unit) {
  svg.textContent = "";
  const W = 400, H = 150, L = 40, B = 15, now = Date.now() / 1000;
  const max = Math.max(1e-9, ...a.map((p) => p[1]), ...b.map((p) => p[1]));
  const x = (t) => L + (W - L) * (1 - (now - t) / WINDOW_S);
  const y = (v) => (H - B) * (1 - v / max) + 2;
  for (const f of [0, 0.5, 1]) {
    svg.append(el("line", { x1: L, x2: W, y1: y(max * f), y2: y(max * f), class: "grid" }));
    const tx = el("text", { x: 2, y: y(max * f) + 3 });
    tx.textContent = (max * f).toPrecision(2) + unit;
    svg.append(tx);
  }
  const tx = el("text", { x: L, y: H - 2 });
  tx.textContent = "−5 min";
  svg.append(tx);
  for (const [pts, cls] of [[a, "a"], [b, "b"]])
    if (pts.length) svg.append(el("polyline", {
      class: cls, points: pts.map(([t, v]) => x(t).toFixed(1) + "," + y(v).toFixed(1)).join(" ") }));
}

function ttftPlot(svg, cached, cold) {
  svg.textContent = "";
  const W = 400, H = 150, B = 15, n = cached.counts.length;
  const max = Math.max(1, ...cached.counts, ...cold.counts), w = W / n;
  for (let i = 0; i < n; i++) {
    const hA = (H - B) * cached.counts[i] / max, hB = (H - B) * cold.counts[i] / max;
    svg.append(el("rect", { x: i * w + 1, y: H - B - hA, width: w / 2 - 1, height: hA, class: "bar-a" }));
    svg.append(el("rect", { x: i * w + w / 2, y: H - B - hB, width: w / 2 - 1, height: hB, class: "bar-b" }));
    if (i % 3 === 0) {
      const t = el("text", { x: i * w, y: H - 2 });
      const le = cached.le[i];
      t.textContent = le === null ? "+Inf" : le < 1 ? (le * 1000).toFixed(0) + "ms" : le.toFixed(0) + "s";
      svg.append(t);
    }
  }
}

function update(st) {
  $("model").textContent = st.model;
  $("updated").textContent = "updated " + new Date(st.time * 1000).toLocaleTimeString();
  $("running").textContent = st.requests.running;
  $("waiting").textContent = st.requests.waiting;
  $("apc-rate").textContent = pct(st.prefix_cache.hit_rate);
  $("offload-rate").textContent = pct(st.offload.lookup_hit_rate);
  $("loaded").textContent = st.offload.loaded_tokens;
  $("stored").textContent = st.offload.stored_chunks;
  $("ttft-cached").textContent = ms(st.ttft_seconds.cached);
  $("ttft-cold").textContent = ms(st.ttft_seconds.cold);
  tierRows(st);
  if (prev && st.time > prev.time) {
    const dt = st.time - prev.time;
    const sum = (s, f) => s.tiers.reduce((a, t) => a + t[f], 0);
    const cached = st.prefix_cache.hit_tokens + st.offload.loaded_tokens;
    const cachedPrev = prev.prefix_cache.hit_tokens + prev.offload.loaded_tokens;
    const prompt = st.tokens.prompt - prev.tokens.prompt;
    samples.push({ t: st.time, load: (sum(st, "read_bytes") - sum(prev, "read_bytes")) / dt / 1e9,
      store: (sum(st, "written_bytes") - sum(prev, "written_bytes")) / dt / 1e9,
      cached: (cached - cachedPrev) / dt, computed: Math.max(0, prompt - (cached - cachedPrev)) / dt });
    while (samples.length && samples[0].t < st.time - WINDOW_S) samples.shift();
  }
  linePlot($("plot-io"), samples.map((s) => [s.t, s.load]), samples.map((s) => [s.t, s.store]), "");
  linePlot($("plot-tokens"), samples.map((s) => [s.t, s.cached]), samples.map((s) => [s.t, s.computed]), "");
  ttftPlot($("plot-ttft"), st.ttft_seconds.cached, st.ttft_seconds.cold);
  prev = st;
}

function cells(tr, values) {
  values.forEach((c, i) => {
    const td = document.createElement(i ? "td" : "th");
    if (!i) td.scope = "row";
    td.textContent = String(c);
    tr.append(td);
  });
}

// The replica rows; returns the stats of the replica to show below (null: none answers).
function replicaRows(st) {
  $("replicas-section").hidden = false;
  $("routing-logic").textContent = st.routing_logic;
  $("retries").textContent = st.retries;
  const sel = $("replica-select"), tbody = $("replicas");
  const chosen = sel.value;
  tbody.textContent = "";
  sel.textContent = "";
  for (const b of st.backends) {
    const s = b.stats;
    const tr = document.createElement("tr");
    tr.dataset.replica = b.url;
    tr.dataset.healthy = b.healthy;
    cells(tr, [b.url, b.healthy ? "up" : "down", pct(b.share), b.requests, b.in_flight,
      s ? s.requests.running : "–", s ? s.requests.waiting : "–",
      s ? pct(s.prefix_cache.hit_rate) : "–", s ? pct(s.offload.lookup_hit_rate) : (b.error || "–")]);
    tbody.append(tr);
    if (s) sel.append(new Option(b.url, b.url, false, b.url === chosen));
  }
  const shown = st.backends.find((b) => b.stats && b.url === sel.value);
  if (!shown || shown.url !== shownUrl) { prev = null; samples.length = 0; } // rates restart
  shownUrl = shown ? shown.url : null;
  return shown ? shown.stats : null;
}

async function poll() {
  try {
    const r = await Api.call("/v1/kvspill/stats");
    if (!r.ok) throw new Error(await Api.errorText(r));
    let st = await r.json();
    if (st.router) st = replicaRows(st);
    if (!st) throw new Error("no replica answers");
    update(st);
    $("error").hidden = true;
  } catch (e) {
    $("error").textContent = "stats: " + e.message;
    $("error").hidden = false;
  }
  setTimeout(poll, PERIOD_MS);
}

poll();
