// What the chat page and the dashboard share: the API key (asked for once, when the
// server answers 401, and kept in localStorage) and fetches that send it.
"use strict";

const Api = (() => {
  const KEY = "kvspill.apiKey";
  let asking = null;

  // The key dialog, one for both pages: added to the page when this script loads (it is
  // the pages' first script, at the end of their body).
  document.body.insertAdjacentHTML("beforeend", `
<dialog id="key-dialog" aria-labelledby="key-title">
  <form method="dialog">
    <h2 id="key-title">API key</h2>
    <p id="key-message"></p>
    <label for="key-input">The server's --api-key</label>
    <input id="key-input" type="password" autocomplete="off">
    <div class="buttons">
      <button value="ok" id="key-ok">Use this key</button>
      <button value="cancel" formnovalidate>Cancel</button>
    </div>
  </form>
</dialog>`);

  function key() { return localStorage.getItem(KEY) || ""; }

  // Shows the key dialog and resolves once a key is entered.
  function askKey(message) {
    if (asking) return asking;
    const dlg = document.getElementById("key-dialog");
    const input = document.getElementById("key-input");
    document.getElementById("key-message").textContent = message;
    input.value = "";
    asking = new Promise((resolve) => {
      dlg.addEventListener("close", () => {
        asking = null;
        if (dlg.returnValue === "ok" && input.value) localStorage.setItem(KEY, input.value);
        resolve(dlg.returnValue === "ok");
      }, { once: true });
    });
    dlg.showModal();
    input.focus();
    return asking;
  }

  // fetch with the key; on 401 asks for it (once per refusal) and tries again.
  async function call(path, init = {}) {
    for (;;) {
      const headers = Object.assign({}, init.headers || {});
      if (key()) headers.Authorization = "Bearer " + key();
      const r = await fetch(path, Object.assign({}, init, { headers }));
      if (r.status !== 401) return r;
      const msg = await errorText(r);
      if (!(await askKey(key() ? "The server refused the key: " + msg : msg))) return r;
    }
  }

  // The message of an OpenAI-shaped error response, or the status line.
  async function errorText(r) {
    const body = await r.text();
    try {
      const j = JSON.parse(body);
      if (j && j.error && j.error.message) return j.error.message;
    } catch (_) { /* not JSON */ }
    return "HTTP " + r.status + (body ? ": " + body.slice(0, 300) : "");
  }

  function forgetKey() { localStorage.removeItem(KEY); }

  return { call, errorText, forgetKey, key };
})();

// Human names of where cached prompt tokens came from (the kvspill response extension).
const SOURCE_NAMES = {
  prefix_cache: "prefix cache", mem: "host RAM", local_disk: "local disk",
  gds: "GPUDirect disk", redis: "Redis", shared: "shared tier",
};
