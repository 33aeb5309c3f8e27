// The admin UI's core: sign-in (the master key lives in sessionStorage only), calls to the admin APIs, the
// page router and small DOM helpers. Pages are in pages.js, charts in charts.js. Data is always written with
// textContent, never as HTML.
"use strict";

const AGW = (() => {
  const KEY = "agw.adminKey";
  const pages = {};
  let timers = [];

  const $ = (id) => document.getElementById(id);

  /** Creates an element: el("td", {class: "num"}, "text", child, ...). Attributes starting with "on" are listeners. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, body) {
      const e = body && body.error;
      super(e && e.message ? e.message : `HTTP ${status}`);
      this.status = status;
      this.code = e && e.code;
    }
  }

  /** Calls a gateway API with the master key; throws ApiError with the API's message on failure. */
  async function api(path, options = {}) {
    const key = sessionStorage.getItem(KEY);
    const init = { method: options.method || (options.body ? "POST" : "GET"), headers: { Authorization: "Bearer " + key } };
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { body = null; }
    if (!response.ok) {
      const error = new ApiError(response.status, body);
      if (response.status === 401 && !options.probe) signOut("Your key was refused: " + error.message);
      throw error;
    }
    return body;
  }

  function banner(message, kind = "error") {
    const b = $("banner");
    b.textContent = message;
    b.className = "banner " + kind;
    b.hidden = !message;
  }

  /** Runs fn every ms while the current page is shown. */
  function every(ms, fn) { timers.push(setInterval(fn, ms)); }

  function stopTimers() { timers.forEach(clearInterval); timers = []; }

  async function route() {
    stopTimers();
    banner("");
    const name = (location.hash.replace(/^#\/?/, "") || "overview").split("?")[0];
    const page = pages[name] || pages.overview;
    document.querySelectorAll(".sidebar a").forEach((a) => a.classList.toggle("active", a.dataset.page === (pages[name] ? name : "overview")));
    $("page-title").textContent = page.title;
    $("page-status").textContent = "";
    const root = $("page");
    root.replaceChildren();
    root.dataset.page = pages[name] ? name : "overview";
    try { await page.render(root); }
    catch (e) { if (!(e instanceof ApiError && e.status === 401)) banner(e.message); }
  }

  function showApp(session) {
    $("login").hidden = true;
    $("app").hidden = false;
    $("version").textContent = " v" + session.version;
    route();
  }

  function signOut(message) {
    stopTimers();
    sessionStorage.removeItem(KEY);
    $("app").hidden = true;
    $("login").hidden = false;
    $("page").replaceChildren();
    const err = $("login-error");
    err.textContent = message || "";
    err.hidden = !message;
    $("master-key").value = "";
    $("master-key").focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const key = $("master-key").value.trim();
    sessionStorage.setItem(KEY, key);
    try {
      showApp(await api("/ui/api/session", { probe: true }));
    } catch (e) {
      signOut(e.status === 403 ? "That key is not the master key: " + e.message : "Sign-in failed: " + e.message);
    }
  }

  async function start() {
    $("login-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut("Signed out."));
    window.addEventListener("hashchange", route);
    if (!sessionStorage.getItem(KEY)) { signOut(); return; }
    try { showApp(await api("/ui/api/session", { probe: true })); }
    catch (e) { signOut(e.message); }
  }

  const fmt = {
    int: (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US")),
    ms: (n) => (n === null || n === undefined ? "–" : n === 0 ? "0 ms" : n >= 1000 ? (n / 1000).toFixed(2) + " s" : Number(n).toFixed(n < 10 ? 2 : 0) + " ms"),
    usd: (n) => (n === null || n === undefined ? "–" : "$" + (n === 0 ? "0" : n < 0.01 ? String(Number(Number(n).toPrecision(3))) : Number(n).toFixed(2))),
    pct: (n) => (Number(n) * 100).toFixed(1) + "%",
    time: (iso) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) : "–"),
    clock: (iso) => new Date(iso).toISOString().slice(11, 16),
    list: (a) => (a && a.length ? a.join(", ") : "all"),
  };

  /** A table from rows and column specs [{title, value: row => node|text, cls}]; options: {id, rowAttrs: row => attrs}. */
  function table(columns, rows, empty = "Nothing here yet.", options = {}) {
    const head = el("tr", {}, columns.map((c) => el("th", { class: c.cls }, c.title)));
    const body = rows.length
      ? rows.map((r) => el("tr", options.rowAttrs ? options.rowAttrs(r) : {}, columns.map((c) => el("td", { class: c.cls }, c.value(r)))))
      : [el("tr", {}, el("td", { colspan: columns.length, class: "muted empty" }, empty))];
    return el("table", { id: options.id }, el("thead", {}, head), el("tbody", {}, body));
  }

  function badge(text, kind) { return el("span", { class: "badge " + (kind || text) }, text); }

  /** A button that asks once more ("Really?") before it acts. */
  function confirmButton(label, action, attrs = {}) {
    const b = el("button", Object.assign({ type: "button", class: "danger small" }, attrs), label);
    let armed = null;
    b.addEventListener("click", async () => {
      if (!armed) {
        b.textContent = "Confirm " + label.toLowerCase();
        armed = setTimeout(() => { armed = null; b.textContent = label; }, 4000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      b.disabled = true;
      try { await action(); } catch (e) { banner(e.message); b.disabled = false; b.textContent = label; }
    });
    return b;
  }

  /** A form from field specs; onSubmit gets the non-empty values (numbers parsed, lists split). */
  function form(fields, submitLabel, onSubmit, id) {
    const inputs = fields.map((f) => {
      const input = f.type === "select"
        ? el("select", { name: f.name, id: `${id}-${f.name}` }, f.options.map((o) => el("option", { value: o }, o)))
        : el("input", { name: f.name, id: `${id}-${f.name}`, type: f.type === "number" ? "number" : f.type === "checkbox" ? "checkbox" : "text",
            placeholder: f.placeholder || "", step: f.type === "number" ? "any" : null, min: f.type === "number" ? "0" : null, checked: f.checked });
      return el("label", { class: f.type === "checkbox" ? "check" : "" }, f.label, input);
    });
    const f = el("form", { class: "form", id }, inputs, el("button", { type: "submit" }, submitLabel));
    f.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = {};
      for (const spec of fields) {
        const input = f.elements[spec.name];
        if (spec.type === "checkbox") { values[spec.name] = input.checked; continue; }
        const raw = input.value.trim();
        if (!raw) continue;
        values[spec.name] = spec.type === "number" ? Number(raw) : spec.type === "list" ? raw.split(",").map((s) => s.trim()).filter(Boolean) : raw;
      }
      const button = f.querySelector("button[type=submit]");
      button.disabled = true;
      try { await onSubmit(values); f.reset(); } catch (e) { banner(e.message); } finally { button.disabled = false; }
    });
    return f;
  }

  /** The panel that shows a new secret once, with a copy button. */
  function secretOnce(title, secret) {
    const code = el("code", { id: "new-key" }, secret);
    const copy = el("button", { type: "button", class: "small", onclick: () => navigator.clipboard && navigator.clipboard.writeText(secret) }, "Copy");
    return el("div", { class: "secret-once", role: "status" },
      el("strong", {}, title), el("div", { class: "secret-line" }, code, copy),
      el("p", { class: "muted" }, "Copy it now: it is shown only once and cannot be retrieved later."));
  }

  document.addEventListener("DOMContentLoaded", start);
  return { pages, api, el, append, banner, every, fmt, table, badge, confirmButton, form, secretOnce, route, $ };
})();
