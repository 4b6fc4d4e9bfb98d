// The chat page: conversations in localStorage, replies streamed over server-sent events
// (fetch + ReadableStream), Markdown-rendered, with the usage and the kvspill extension
// (where the cached prompt tokens came from) under each reply.
"use strict";

const $ = (id) => document.getElementById(id);
const STORE = "kvspill.conversations", SETTINGS = "kvspill.settings";
let state = load(STORE, { list: [], current: null });
let running = null; // {controller} while a reply streams

function load(key, fallback) {
  try { return JSON.parse(localStorage.getItem(key)) || fallback; } catch (_) { return fallback; }
}
function save() { localStorage.setItem(STORE, JSON.stringify(state)); }

function current() {
  let c = state.list.find((x) => x.id === state.current);
  if (!c) {
    c = { id: String(Date.now()), title: "New chat", messages: [] };
    state.list.unshift(c);
    state.current = c.id;
    save();
  }
  return c;
}

// "cached 256 tokens (host RAM)", "cached 512 tokens (prefix cache 256, local disk 256)".
function cachedText(usage, ext) {
  const n = (usage.prompt_tokens_details || {}).cached_tokens || 0;
  if (!n) return "no cached tokens";
  const by = Object.entries((ext && ext.cached_tokens) || {}).filter(([, v]) => v > 0);
  const name = (k) => SOURCE_NAMES[k] || k;
  let where = "";
  if (by.length === 1) where = " (" + name(by[0][0]) + ")";
  else if (by.length > 1) where = " (" + by.map(([k, v]) => name(k) + " " + v).join(", ") + ")";
  return "cached " + n + " tokens" + where;
}

function statsLine(el, s) {
  el.textContent = "";
  const parts = [];
  if (s.ttft_ms != null) parts.push("TTFT " + s.ttft_ms.toFixed(0) + " ms");
  if (s.tokens_per_s != null) parts.push(s.tokens_per_s.toFixed(1) + " tokens/s");
  if (s.usage) {
    parts.push(s.usage.prompt_tokens + " prompt tokens");
    const c = document.createElement("span");
    c.className = "cached";
    c.textContent = cachedText(s.usage, s.kvspill);
    parts.push(c);
    if (s.kvspill) parts.push(s.kvspill.recomputed + " recomputed");
  }
  if (s.note) parts.push(s.note);
  parts.forEach((p, i) => el.append(...(i ? [" · ", p] : [p])));
}

function messageItem(m) {
  const li = document.createElement("li");
  li.className = m.role;
  const role = document.createElement("div");
  role.className = "role";
  role.textContent = m.role === "user" ? "You" : "Assistant";
  li.append(role);
  const body = document.createElement("div");
  if (m.role === "user") body.textContent = m.content;
  else {
    body.className = "reply";
    body.innerHTML = Markdown.render(m.content);
  }
  li.append(body);
  if (m.role === "assistant") {
    const st = document.createElement("div");
    st.className = "stats";
    if (m.stats) statsLine(st, m.stats);
    li.append(st);
  }
  return li;
}

function renderList() {
  const ul = $("conversations");
  ul.textContent = "";
  for (const c of state.list) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = c.title;
    b.setAttribute("aria-current", String(c.id === state.current));
    b.addEventListener("click", () => { if (!running) { state.current = c.id; save(); renderAll(); } });
    li.append(b);
    ul.append(li);
  }
}

function renderAll() {
  const c = current();
  renderList();
  const ol = $("messages");
  ol.textContent = "";
  c.messages.forEach((m) => ol.append(messageItem(m)));
  ol.scrollTop = ol.scrollHeight;
}

function showError(msg) {
  const e = $("error");
  e.textContent = msg || "";
  e.hidden = !msg;
}

function settings() {
  return { system: $("system").value, temperature: Number($("temperature").value),
           max_tokens: Number($("max-tokens").value) };
}

// Reads server-sent events from a fetch response; onEvent gets each parsed data object.
async function readEvents(resp, onEvent) {
  const reader = resp.body.getReader(), dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let at;
    while ((at = buf.indexOf("\n\n")) >= 0) {
      const ev = buf.slice(0, at);
      buf = buf.slice(at + 2);
      for (const line of ev.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        onEvent(JSON.parse(data));
      }
    }
  }
}

async function send(text) {
  const c = current(), s = settings();
  showError("");
  c.messages.push({ role: "user", content: text });
  if (c.title === "New chat") c.title = text.slice(0, 40);
  const reply = { role: "assistant", content: "", stats: null };
  c.messages.push(reply);
  save();
  renderAll();
  const li = $("messages").lastElementChild;
  const body = li.querySelector(".reply"), st = li.querySelector(".stats");
  body.setAttribute("aria-live", "polite");
  body.setAttribute("aria-busy", "true");

  const messages = [];
  if (s.system.trim()) messages.push({ role: "system", content: s.system });
  // A NUL (a small model's stray byte) is no valid JSON text for the server: left out.
  c.messages.slice(0, -1).forEach((m) =>
    messages.push({ role: m.role, content: m.content.replace(/\u0000/g, "") }));
  const controller = new AbortController();
  running = { controller };
  $("send").disabled = true;
  $("stop").disabled = false;
  const t0 = performance.now();
  let tFirst = null, usage = null, ext = null, note = null;
  try {
    const resp = await Api.call("/v1/chat/completions", {
      method: "POST", signal: controller.signal,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ messages, stream: true, stream_options: { include_usage: true },
                             temperature: s.temperature, max_tokens: s.max_tokens }),
    });
    if (!resp.ok) throw new Error(await Api.errorText(resp));
    await readEvents(resp, (ev) => {
      if (ev.error) throw new Error(ev.error.message || "the server reported an error");
      const delta = ev.choices && ev.choices[0] && ev.choices[0].delta;
      if (delta && delta.content) {
        if (tFirst === null) tFirst = performance.now();
        reply.content += delta.content;
        body.innerHTML = Markdown.render(reply.content);
        $("messages").scrollTop = $("messages").scrollHeight;
      }
      if (ev.usage) { usage = ev.usage; ext = ev.kvspill || null; }
    });
  } catch (e) {
    if (e.name === "AbortError") note = "stopped";
    else {
      note = "error";
      showError(e.message);
      if (!reply.content) reply.content = "*" + e.message + "*";
      body.innerHTML = Markdown.render(reply.content);
    }
  }
  const tEnd = performance.now();
  const stats = { usage, kvspill: ext, note };
  stats.ttft_ms = ext && ext.ttft_ms ? ext.ttft_ms : tFirst !== null ? tFirst - t0 : null;
  if (usage && tFirst !== null && tEnd > tFirst && usage.completion_tokens > 1)
    stats.tokens_per_s = (usage.completion_tokens - 1) / ((tEnd - tFirst) / 1000);
  reply.stats = stats;
  statsLine(st, stats);
  body.setAttribute("aria-busy", "false");
  body.removeAttribute("aria-live");
  save();
  running = null;
  $("send").disabled = false;
  $("stop").disabled = true;
  $("prompt").focus();
}

function init() {
  const saved = load(SETTINGS, null);
  if (saved) {
    $("system").value = saved.system || "";
    $("temperature").value = saved.temperature;
    $("max-tokens").value = saved.max_tokens;
  }
  for (const id of ["system", "temperature", "max-tokens"])
    $(id).addEventListener("change", () => localStorage.setItem(SETTINGS, JSON.stringify(settings())));
  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("prompt").value;
    if (!text.trim() || running) return;
    $("prompt").value = "";
    send(text);
  });
  $("prompt").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => running && running.controller.abort());
  $("new-chat").addEventListener("click", () => {
    if (running) return;
    state.current = null;
    current();
    renderAll();
    $("prompt").focus();
  });
  $("forget-key").addEventListener("click", () => Api.forgetKey());
  renderAll();
  Api.call("/v1/models").then(async (r) => {
    if (r.ok) $("model").textContent = (await r.json()).data[0].id;
    else showError(await Api.errorText(r));
  }).catch((e) => showError("cannot reach the server: " + e.message));
}

init();
