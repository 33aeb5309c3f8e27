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
      // LiteLLM-shaped errors ({"error": {"message"}}); FastAPI's {"detail": ...} from a LiteLLM-compatible proxy too.
      const detail = body && body.detail;
      super(e && e.message ? e.message : typeof detail === "string" ? detail : `HTTP ${status}`);
      this.status = status;
      this.code = e && e.code;
      this.param = e && e.param;
    }
  }

  /** True when an endpoint this gateway version does not serve answered (404 for the route itself, not for a missing item). */
  const unavailable = (e) => e instanceof ApiError && ((e.status === 404 && (e.code === "unknown_url" || !e.code)) || e.status === 405);

  /** Calls a gateway API with the master key; throws ApiError with the API's message on failure. */
  async function api(path, options = {}) {
    const key = sessionStorage.getItem(KEY);
    const init = { method: options.method || (options.body !== undefined ? "POST" : "GET"), headers: { Authorization: "Bearer " + key } };
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

  /**
   * Runs fn every ms while the current page is shown; not while a destructive button waits for its confirmation,
   * since redrawing would put the button back and the second click would land on nothing.
   */
  function every(ms, fn) { timers.push(setInterval(() => { if (!document.querySelector("#page [data-armed]")) fn(); }, ms)); }

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
      if (e.code === "no_master_key") { signOut(e.message); probeMasterKey(); return; }
      signOut(e.status === 403 ? "That key is not the master key: " + e.message : "Sign-in failed: " + e.message);
    }
  }

  /** Asks, without a key, whether the gateway has a master key at all: with none, the sign-in page says how to set one. */
  async function probeMasterKey() {
    try {
      const response = await fetch("/ui/api/session");
      const body = await response.json().catch(() => null);
      const none = response.status === 403 && body && body.error && body.error.code === "no_master_key";
      $("no-master-key").hidden = !none;
      if (none) $("master-key-help").open = true;
    } catch { /* the form still works; the hint is a courtesy */ }
  }

  async function start() {
    $("login-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut("Signed out."));
    window.addEventListener("hashchange", route);
    if (!sessionStorage.getItem(KEY)) { signOut(); probeMasterKey(); return; }
    try { showApp(await api("/ui/api/session", { probe: true })); }
    catch (e) { signOut(e.message); }
  }

  /**
   * Dollars for people: cents for amounts from a cent up ($1,234.50), three significant digits below that, always
   * in positional notation ($0.0000001, never 1e-7: per-token prices and one request's cost are that small).
   */
  function usd(n) {
    if (n === null || n === undefined || n === "") return "–";
    const v = Number(n);
    if (!Number.isFinite(v)) return "–";
    if (v === 0) return "$0";
    const a = Math.abs(v);
    const text = a >= 0.01
      ? a.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })
      : a.toLocaleString("en-US", { maximumSignificantDigits: 3, maximumFractionDigits: 20, useGrouping: false });
    return (v < 0 ? "-$" : "$") + text;
  }

  const fmt = {
    int: (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US")),
    ms: (n) => (n === null || n === undefined ? "–" : n === 0 ? "0 ms" : n >= 1000 ? (n / 1000).toFixed(2) + " s" : Number(n).toFixed(n < 10 ? 2 : 0) + " ms"),
    usd,
    pct: (n) => (Number(n) * 100).toFixed(1) + "%",
    time: (iso) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) : "–"),
    /** A date for a table cell, the full time (UTC) on hover: narrow columns leave room for names. */
    day: (iso) => (iso ? el("span", { title: new Date(iso).toISOString().replace("T", " ").slice(0, 19) + " UTC" }, new Date(iso).toISOString().slice(0, 10)) : "–"),
    clock: (iso) => new Date(iso).toISOString().slice(11, 16),
    list: (a) => (a && a.length ? a.join(", ") : "all"),
    /** A list for a table cell: each item kept whole ("gpt-4o-mini" never split at its hyphens), wrapping between items. */
    items: (a, none = "all") => (a && a.length ? a.flatMap((x, i) => [i ? ", " : null, el("span", { class: "item" }, x)]) : none),
  };

  /**
   * A table from rows and column specs [{title, value: row => node|text, cls}], paginated in the browser.
   * options: {id, rowAttrs: row => attrs, pageSize (25), state: {page} kept by the caller across redraws}.
   * It sits in a horizontally scrolling wrapper whose actions column (cls "actions") stays in view.
   */
  function table(columns, rows, empty = "Nothing here yet.", options = {}) {
    const size = options.pageSize || 25;
    const state = options.state || { page: 0 };
    const pages = Math.max(1, Math.ceil(rows.length / size));
    state.page = Math.min(state.page || 0, pages - 1);
    const head = el("tr", {}, columns.map((c) => el("th", { class: c.cls }, c.title)));
    const tbody = el("tbody");
    const t = el("table", { id: options.id }, el("thead", {}, head), tbody);
    const wrap = el("div", { class: "table-wrap" }, t);
    const pager = el("div", { class: "pager" });
    const draw = () => {
      const shown = rows.slice(state.page * size, (state.page + 1) * size);
      tbody.replaceChildren(...(shown.length
        ? shown.map((r) => el("tr", options.rowAttrs ? options.rowAttrs(r) : {}, columns.map((c) => el("td", { class: c.cls }, c.cls === "actions" ? el("div", { class: "actions-inner" }, c.value(r)) : c.value(r)))))
        : [el("tr", {}, el("td", { colspan: columns.length, class: "muted empty" }, empty))]));
      pager.replaceChildren(...pagerControls(state.page + 1, pages, rows.length, size, (p) => { state.page = p - 1; draw(); }, options.id));
      pager.hidden = pages <= 1;
    };
    draw();
    return el("div", { class: "table-block" }, wrap, pager);
  }

  /** "1–25 of 80  ‹ Previous  Next ›" for page (1-based) of pages. */
  function pagerControls(page, pages, total, size, go, id) {
    const from = total === 0 ? 0 : (page - 1) * size + 1, to = Math.min(total, page * size);
    return [
      el("span", { class: "muted small", "data-pager": id || "" }, `${fmt.int(from)}–${fmt.int(to)} of ${fmt.int(total)}`),
      el("button", { type: "button", class: "small", disabled: page <= 1, onclick: () => go(page - 1), "aria-label": "Previous page" }, "‹ Previous"),
      el("span", { class: "small" }, `page ${page} of ${pages}`),
      el("button", { type: "button", class: "small", disabled: page >= pages, onclick: () => go(page + 1), "aria-label": "Next page" }, "Next ›"),
    ];
  }

  /** A pager for lists the server paginates (/key/list's page and size). */
  function serverPager(page, pages, total, size, go) {
    const p = el("div", { class: "pager" }, pagerControls(page, Math.max(1, pages), total, size, go));
    p.hidden = pages <= 1;
    return p;
  }

  /** A name with its id below it, small (teams, keys): people read the name, scripts need the id. */
  function named(name, id) {
    if (!name || name === id) return id ? el("span", { title: id }, id) : "–";
    return el("span", { class: "named", title: id }, name, el("span", { class: "muted small id" }, id));
  }

  function badge(text, kind) { return el("span", { class: "badge " + (kind || text) }, text); }

  /** A titled panel of a page. */
  const section = (title, ...children) => el("section", { class: "panel" }, el("h3", {}, title), children);

  /** A button that asks once more ("Really?") before it acts. */
  function confirmButton(label, action, attrs = {}) {
    const b = el("button", Object.assign({ type: "button", class: "danger small" }, attrs), label);
    let armed = null;
    b.addEventListener("click", async () => {
      if (!armed) {
        b.textContent = "Confirm " + label.toLowerCase();
        b.dataset.armed = "true";
        armed = setTimeout(() => { armed = null; b.textContent = label; delete b.dataset.armed; }, 4000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      delete b.dataset.armed;
      b.disabled = true;
      try { await action(); } catch (e) { banner(e.message); b.disabled = false; b.textContent = label; }
    });
    return b;
  }

  /**
   * A form from field specs; onSubmit gets the non-empty values (numbers parsed, lists split). A spec may have
   * options (a select: strings or [value, label]), suggest (a datalist of strings), value (initial), required, and
   * check(value, values) returning an error message: the form is refused in the browser before anything is sent.
   * The server's 4xx is shown in the form itself, where the user is looking, as well.
   */
  function form(fields, submitLabel, onSubmit, id, extra = {}) {
    const inputs = fields.map((f) => {
      const common = { name: f.name, id: `${id}-${f.name}`, required: f.required, "aria-describedby": `${id}-error` };
      let input;
      if (f.type === "select") {
        input = el("select", common, f.options.map((o) => Array.isArray(o) ? el("option", { value: o[0], selected: o[0] === f.value }, o[1]) : el("option", { value: o, selected: o === f.value }, o)));
      } else if (f.type === "textarea") {
        input = el("textarea", Object.assign({ rows: f.rows || 3, placeholder: f.placeholder || "" }, common), f.value || "");
      } else {
        input = el("input", Object.assign({ type: f.type === "number" ? "number" : f.type === "checkbox" ? "checkbox" : f.type === "password" ? "password" : "text",
          placeholder: f.placeholder || "", step: f.type === "number" ? "any" : null, min: f.type === "number" ? "0" : null, checked: f.checked,
          value: f.value === undefined || f.value === null ? null : f.value, list: f.suggest ? `${id}-${f.name}-list` : null, autocomplete: "off" }, common));
      }
      const list = f.suggest ? el("datalist", { id: `${id}-${f.name}-list` }, f.suggest.map((o) => Array.isArray(o) ? el("option", { value: o[0] }, o[1]) : el("option", { value: o }))) : null;
      return el("label", { class: (f.type === "checkbox" ? "check" : "") + (f.wide ? " wide" : "") }, f.label, input, list);
    });
    const error = el("p", { class: "form-error error", id: `${id}-error`, role: "alert", hidden: true });
    const buttons = el("div", { class: "form-buttons" }, el("button", { type: "submit" }, submitLabel), extra.buttons || []);
    const f = el("form", { class: "form", id, novalidate: true }, inputs, buttons, error);
    const showError = (message) => { error.textContent = message || ""; error.hidden = !message; };
    f.showError = showError;
    f.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError("");
      const values = {};
      const problems = [];
      for (const spec of fields) {
        const input = f.elements[spec.name];
        input.removeAttribute("aria-invalid");
        if (spec.type === "checkbox") { values[spec.name] = input.checked; continue; }
        const raw = input.value.trim();
        if (!raw) {
          if (spec.required) { problems.push(`${spec.label} is required.`); input.setAttribute("aria-invalid", "true"); }
          continue;
        }
        if (spec.type === "number" && !Number.isFinite(Number(raw))) { problems.push(`${spec.label} must be a number.`); input.setAttribute("aria-invalid", "true"); continue; }
        values[spec.name] = spec.type === "number" ? Number(raw) : spec.type === "list" ? raw.split(",").map((s) => s.trim()).filter(Boolean) : raw;
      }
      for (const spec of fields) {
        if (!spec.check || values[spec.name] === undefined) continue;
        const problem = spec.check(values[spec.name], values);
        if (problem) { problems.push(problem); f.elements[spec.name].setAttribute("aria-invalid", "true"); }
      }
      if (problems.length) { showError(problems.join(" ")); return; }
      const button = f.querySelector("button[type=submit]");
      button.disabled = true;
      try { if (await onSubmit(values) !== false && !extra.keep) f.reset(); }
      catch (e) { if (!(e instanceof ApiError && e.status === 401)) showError(e.message); }
      finally { button.disabled = false; }
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
  return { pages, api, ApiError, unavailable, el, append, banner, every, fmt, table, serverPager, named, badge, section, confirmButton, form, secretOnce, route, $ };
})();
