// The admin UI's pages. Each renders into its root from the admin APIs and may refresh itself with AGW.every.
"use strict";

(() => {
  const { pages, api, el, banner, every, fmt, table, badge, section, confirmButton } = AGW;
  const stat = (id, label, value, sub) => el("div", { class: "stat" }, el("span", { class: "label" }, label), el("span", { class: "value", id }, value), sub ? el("span", { class: "sub muted" }, sub) : null);
  const statusBadge = (code) => badge(String(code), code >= 500 ? "bad" : code >= 400 ? "warn" : "ok");
  const unpriced = () => badge("unpriced", "warn unpriced");
  /** Team id -> alias, for showing names; a failed lookup leaves ids (the page still works). */
  const teamNames = async () => {
    const names = {};
    try { for (const t of await api("/team/list")) names[t.team_id] = t.team_alias || t.team_id; } catch (e) { if (e.status === 401) throw e; }
    return names;
  };

  // ---- Overview --------------------------------------------------------------------------------------------
  pages.overview = {
    title: "Overview",
    async render(root) {
      const windows = { "15 minutes": 15, "1 hour": 60, "6 hours": 360, "24 hours": 1440 };
      const picker = el("select", { id: "overview-window" }, Object.keys(windows).map((k) => el("option", { value: windows[k], selected: windows[k] === 60 }, k)));
      const body = el("div", { id: "overview-body" });
      root.append(el("div", { class: "toolbar" }, el("label", {}, "Window ", picker)), body);
      // A model group is unpriced when none of its deployments has a price: its cost shows as $0 but is unknown.
      let unpricedModels = new Set();
      const loadPrices = async () => {
        const d = await api("/ui/api/deployments");
        const priced = new Set(d.data.filter((x) => x.input_cost_per_token !== null).map((x) => x.model));
        unpricedModels = new Set(d.data.map((x) => x.model).filter((m) => !priced.has(m)));
      };
      const load = async () => {
        const o = await api(`/ui/api/overview?minutes=${picker.value}&buckets=30`);
        const t = o.totals;
        const labels = o.series.map((b) => fmt.clock(b.t));
        const col = (k) => o.series.map((b) => b[k]);
        body.replaceChildren(
          el("div", { class: "stats" },
            stat("stat-requests", "Requests", fmt.int(t.requests)),
            stat("stat-errors", "Errors", fmt.int(t.errors), fmt.pct(t.error_rate)),
            stat("stat-p50", "Latency p50", fmt.ms(t.p50_ms)),
            stat("stat-p95", "p95", fmt.ms(t.p95_ms)),
            stat("stat-p99", "p99", fmt.ms(t.p99_ms)),
            stat("stat-tokens", "Tokens", fmt.int(t.prompt_tokens + t.completion_tokens), `${fmt.int(t.prompt_tokens)} in · ${fmt.int(t.completion_tokens)} out`),
            stat("stat-cost", "Cost", fmt.usd(t.cost))),
          el("div", { class: "charts" },
            Charts.bars("Requests and errors", labels, [{ name: "requests", cls: "s1", values: col("requests") }, { name: "errors", cls: "s-err", values: col("errors") }], { id: "chart-requests" }),
            Charts.lines("Latency", labels, [{ name: "p50", cls: "s1", values: col("p50_ms") }, { name: "p95", cls: "s2", values: col("p95_ms") }, { name: "p99", cls: "s3", values: col("p99_ms") }], { id: "chart-latency", format: fmt.ms }),
            Charts.bars("Tokens", labels, [{ name: "prompt", cls: "s1", values: col("prompt_tokens") }, { name: "completion", cls: "s2", values: col("completion_tokens") }], { id: "chart-tokens", stacked: true }),
            Charts.lines("Cost (USD)", labels, [{ name: "cost", cls: "s3", values: col("cost") }], { id: "chart-cost", format: fmt.usd })),
          section("By model", table([
            { title: "Model", value: (m) => m.model },
            { title: "Requests", cls: "num", value: (m) => fmt.int(m.stats.requests) },
            { title: "Errors", cls: "num", value: (m) => fmt.int(m.stats.errors) },
            { title: "p50", cls: "num", value: (m) => fmt.ms(m.stats.p50_ms) },
            { title: "p95", cls: "num", value: (m) => fmt.ms(m.stats.p95_ms) },
            { title: "Tokens", cls: "num", value: (m) => fmt.int(m.stats.prompt_tokens + m.stats.completion_tokens) },
            { title: "Cost", cls: "num", value: (m) => unpricedModels.has(m.model) ? [unpriced(), " ", fmt.usd(m.stats.cost)] : fmt.usd(m.stats.cost) },
          ], o.by_model, "No requests in this window.", { id: "by-model-table", rowAttrs: (m) => ({ "data-model": m.model }) })),
          el("p", { class: "muted small" }, `From the last ${fmt.int(o.capacity)} requests kept in memory (${fmt.int(o.recorded_total)} since start); ${o.bucket_seconds}s per bar. Longer history: Spend.`));
        AGW.$("page-status").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
      };
      picker.addEventListener("change", load);
      await loadPrices().catch((e) => { if (e.status === 401) throw e; });
      await load();
      every(5000, () => load().catch((e) => banner(e.message)));
    },
  };

  // ---- Spend -----------------------------------------------------------------------------------------------
  pages.spend = {
    title: "Spend",
    async render(root) {
      const day = (d) => d.toISOString().slice(0, 10);
      const groupBy = el("select", { id: "spend-group" }, [["api_key", "key"], ["team", "team"], ["model", "model"], ["user", "user"]].map(([v, t]) => el("option", { value: v }, "by " + t)));
      const start = el("input", { type: "date", id: "spend-start", value: day(new Date(Date.now() - 29 * 864e5)) });
      const end = el("input", { type: "date", id: "spend-end", value: day(new Date()) });
      const body = el("div");
      root.append(el("div", { class: "toolbar" }, groupBy, el("label", {}, "from ", start), el("label", {}, "to ", end)), body);
      const names = {};
      const load = async () => {
        const [report, keys, logs, teams] = await Promise.all([
          api(`/global/spend/report?group_by=${groupBy.value}&start_date=${start.value}&end_date=${end.value}`),
          api("/spend/keys?limit=1000"),
          api(`/spend/logs?start_date=${start.value}&end_date=${end.value}&limit=500`),
          teamNames(),
        ]);
        for (const k of keys) names[k.token] = k.key_alias || k.key_name;
        const listName = { api_key: "keys", team: "teams", model: "models", user: "users" }[groupBy.value];
        const field = { api_key: "api_key", team: "team_name", model: "model", user: "user_id" }[groupBy.value];
        const label = (g) => (groupBy.value === "api_key" ? names[g] || g : groupBy.value === "team" ? teams[g] || g : g) || "(none)";
        const totals = {};
        for (const d of report) for (const g of d[listName]) {
          const t = totals[g[field]] || (totals[g[field]] = { name: label(g[field]), spend: 0, requests: 0, tokens: 0 });
          t.spend += g.total_spend; t.requests += g.requests; t.tokens += g.total_tokens;
        }
        // Every day of the period, days without spend included.
        const days = [];
        for (let d = new Date(start.value + "T00:00:00Z"); day(d) <= end.value && days.length < 400; d = new Date(d.getTime() + 864e5)) days.push(day(d));
        const spendOn = (d) => (report.find((x) => x.group_by_day.slice(0, 10) === d) || { total_spend: 0 }).total_spend;
        const top = Object.values(totals).sort((a, b) => b.spend - a.spend).slice(0, 8);
        body.replaceChildren(
          el("div", { class: "charts" },
            Charts.bars("Spend per day (USD)", days.map((d) => d.slice(5)), [{ name: "spend", cls: "s3", values: days.map(spendOn) }], { id: "chart-spend", format: fmt.usd }),
            section("Top " + groupBy.selectedOptions[0].textContent.slice(3) + "s by spend", el("div", { class: "hbars" }, top.length ? top.map((t) =>
              el("div", { class: "hbar" }, el("span", { class: "name" }, t.name), el("meter", { min: 0, max: top[0].spend || 1, value: t.spend }), el("span", { class: "num" }, fmt.usd(t.spend))))
              : el("p", { class: "muted" }, "No spend in this period.")))),
          section("Totals " + groupBy.selectedOptions[0].textContent, table([
            { title: "Name", value: (t) => t.name }, { title: "Requests", cls: "num", value: (t) => fmt.int(t.requests) },
            { title: "Tokens", cls: "num", value: (t) => fmt.int(t.tokens) }, { title: "Spend", cls: "num", value: (t) => fmt.usd(t.spend) },
          ], Object.values(totals).sort((a, b) => b.spend - a.spend), "No spend in this period.", { id: "spend-totals" })),
          section("Per day", table([
            { title: "Day", value: (r) => r.day }, { title: "Name", value: (r) => label(r.g[field]) },
            { title: "Requests", cls: "num", value: (r) => fmt.int(r.g.requests) }, { title: "Tokens", cls: "num", value: (r) => fmt.int(r.g.total_tokens) },
            { title: "Spend", cls: "num", value: (r) => fmt.usd(r.g.total_spend) },
          ], report.flatMap((d) => d[listName].map((g) => ({ day: d.group_by_day.slice(0, 10), g }))).reverse(), "No spend in this period.", { id: "spend-days" })),
          section("Latest spend logs (newest first)", table([
            { title: "Time", cls: "nowrap", value: (l) => fmt.time(l.startTime) }, { title: "Key", value: (l) => l.key_alias || names[l.api_key] || l.api_key },
            { title: "Team", value: (l) => l.team_id ? teams[l.team_id] || l.team_id : "–" },
            { title: "Model", value: (l) => l.model }, { title: "Status", value: (l) => statusBadge(l.http_status) },
            { title: "Tokens", cls: "num", value: (l) => fmt.int(l.total_tokens) }, { title: "Spend", cls: "num", value: (l) => fmt.usd(l.spend) },
          ], logs, "No spend logs in this period.", { id: "spend-logs" })));
      };
      for (const c of [groupBy, start, end]) c.addEventListener("change", () => load().catch((e) => banner(e.message)));
      await load();
    },
  };

  // ---- Sandboxes -------------------------------------------------------------------------------------------
  pages.sandboxes = {
    title: "Sandboxes",
    async render(root) {
      const list = el("div"), detail = el("div", { id: "sandbox-detail" });
      const listState = { page: 0 };
      root.append(list, detail);
      const load = async () => {
        let r;
        try { r = await api("/ui/api/sandboxes"); }
        catch (e) {
          if (e.code !== "sandboxes_disabled") throw e;
          list.replaceChildren(el("p", { class: "muted" }, e.message));
          return;
        }
        list.replaceChildren(section("Live sandboxes", table([
          { title: "Id", value: (s) => el("code", {}, s.id) },
          { title: "Runtime", value: (s) => s.runtime },
          { title: "Owner", value: (s) => el("span", { title: s.owner }, s.owner_name || s.owner) },
          { title: "Created", cls: "nowrap", value: (s) => fmt.time(s.created_at) },
          { title: "Expires", cls: "nowrap", value: (s) => fmt.time(s.expires_at).slice(11) },
          { title: "Resources", value: (s) => `${s.cpu} CPU, ${s.memory_mb} MB, ${s.disk_mb} MB disk` },
          { title: "Network", value: (s) => s.network === "none" ? "none" : "allow " + s.allow_hosts.join(", ") },
          { title: "Metadata", value: (s) => Object.entries(s.metadata).map(([k, v]) => `${k}=${v}`).join(", ") || "–" },
          { title: "", cls: "actions", value: (s) => [
            el("button", { type: "button", class: "small", onclick: () => inspect(s.id).catch((e) => banner(e.message)) }, "Inspect"),
            confirmButton("Kill", async () => { await api(`/ui/api/sandboxes/${encodeURIComponent(s.id)}`, { method: "DELETE" }); detail.replaceChildren(); banner(`Sandbox ${s.id} killed.`, "info"); await load(); }),
          ] },
        ], r.data.slice().sort((a, b) => String(b.created_at).localeCompare(String(a.created_at))), "No sandboxes running.",
        { id: "sandboxes-table", rowAttrs: (s) => ({ "data-id": s.id }), state: listState })));
      };
      const inspect = async (id) => {
        const s = await api(`/ui/api/sandboxes/${encodeURIComponent(id)}`);
        detail.replaceChildren(section(`Sandbox ${s.id}`, el("pre", { class: "json" }, JSON.stringify(s, null, 2))));
      };
      await load();
      every(5000, () => load().catch((e) => banner(e.message)));
    },
  };

  // ---- Live log --------------------------------------------------------------------------------------------
  pages.logs = {
    title: "Live log",
    async render(root) {
      const rows = [];
      let last = 0, paused = false;
      const filter = el("input", { type: "search", id: "log-filter", placeholder: "filter: key, model, status, request id…" });
      const pause = el("button", { type: "button", class: "small" }, "Pause");
      pause.addEventListener("click", () => { paused = !paused; pause.textContent = paused ? "Resume" : "Pause"; });
      const body = el("div");
      const state = { page: 0 };
      let teams = await teamNames();
      root.append(el("div", { class: "toolbar" }, filter, pause), body);
      const draw = () => {
        const q = filter.value.trim().toLowerCase();
        const shown = q ? rows.filter((r) => [r.request_id, r.key_alias, r.key_name, r.team_id, r.model, r.deployment, String(r.status), r.error].some((v) => v && String(v).toLowerCase().includes(q))) : rows;
        body.replaceChildren(el("div", { class: "panel" }, table([
          { title: "Time", cls: "nowrap", value: (r) => fmt.time(r.time).slice(11) },
          { title: "Request id", value: (r) => el("code", {}, r.request_id) },
          { title: "Key", value: (r) => r.key_alias || r.key_name || "–" },
          { title: "Team", value: (r) => r.team_id ? el("span", { title: r.team_id }, teams[r.team_id] || r.team_id) : "–" },
          { title: "Model", cls: "nowrap", value: (r) => r.model },
          { title: "Deployment", value: (r) => r.deployment ? el("span", { title: r.deployment }, r.deployment_name || r.deployment) : "–" },
          { title: "Status", value: (r) => [statusBadge(r.status), r.error ? el("span", { class: "muted small" }, " " + r.error) : null] },
          { title: "Latency", cls: "num", value: (r) => fmt.ms(r.latency_ms) },
          { title: "Tokens in/out", cls: "num", value: (r) => `${fmt.int(r.prompt_tokens)} / ${fmt.int(r.completion_tokens)}` },
          { title: "Cost", cls: "num", value: (r) => r.unpriced ? [unpriced(), " ", fmt.usd(r.cost)] : fmt.usd(r.cost) },
        ], shown, "Waiting for requests…", { id: "log-table", rowAttrs: (r) => ({ "data-request-id": r.request_id }), pageSize: 50, state })));
      };
      const poll = async () => {
        if (paused) return;
        const r = await api(`/ui/api/requests?after=${last}&limit=500`);
        last = r.last_seq;
        if (r.data.length) {
          rows.unshift(...r.data);
          rows.length = Math.min(rows.length, 500);
          if (r.data.some((x) => x.team_id && !(x.team_id in teams))) teams = await teamNames();
        }
        draw();
        AGW.$("page-status").textContent = `${rows.length} shown · live`;
      };
      filter.addEventListener("input", () => { state.page = 0; draw(); });
      await poll();
      every(1500, () => poll().catch((e) => banner(e.message)));
    },
  };

  // ---- Configuration ------------------------------------------------------------------------------------
  pages.config = {
    title: "Configuration",
    async render(root) {
      const [c, server] = await Promise.all([api("/ui/api/config"), api("/ui/api/server")]);
      const listen = server.listen_addresses.length ? server.listen_addresses : ["(not known: the gateway is not listening on a socket)"];
      const yaml = el("pre", { class: "yaml", id: "config-yaml" }, Yaml.dump(c));
      const json = el("pre", { class: "json", id: "config-json", hidden: true }, JSON.stringify(c, null, 2));
      const tab = (label, shown) => el("button", { type: "button", class: "small", "aria-pressed": shown === yaml ? "true" : "false", onclick: (e) => {
        yaml.hidden = shown !== yaml; json.hidden = shown !== json;
        e.target.parentNode.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === e.target)));
      } }, label);
      root.append(
        el("section", { class: "panel", id: "server-info" }, el("h3", {}, "Server"),
          el("dl", { class: "kv" },
            el("dt", {}, "Listening on"), el("dd", { id: "listen-addresses" }, listen.map((a) => el("div", {}, el("code", {}, a)))),
            el("dt", {}, "Metrics listener"), el("dd", { id: "metrics-addresses" }, server.metrics_urls ? el("code", {}, server.metrics_urls) : "none (metrics at /metrics on the addresses above)"),
            el("dt", {}, "Configuration from"), el("dd", {}, el("code", {}, c.source || "–")),
            el("dt", {}, "Version"), el("dd", {}, server.version))),
        el("section", { class: "panel" }, el("h3", {}, "Effective configuration"),
          el("p", { class: "muted" }, "What the gateway runs with now (after hot reloads), defaults included, in the gateway's own schema. Secrets show as ***."),
          el("div", { class: "tabs" }, tab("YAML", yaml), tab("JSON", json)), yaml, json));
    },
  };

  /** JSON to block-style YAML, for reading (strings JSON-quoted when plain YAML would change their meaning). */
  const Yaml = (() => {
    const plain = /^[A-Za-z_\/.][A-Za-z0-9_ .\/:@+-]*$/;
    const reserved = /^(true|false|yes|no|on|off|null|~|y|n)$/i;
    const scalar = (v) => {
      if (v === null || v === undefined) return "null";
      if (typeof v === "number" || typeof v === "boolean") return String(v);
      const text = String(v);
      return plain.test(text) && !reserved.test(text) && !text.includes(": ") && !text.endsWith(":") && !text.endsWith(" ") ? text : JSON.stringify(text);
    };
    const key = (k) => (/^[A-Za-z0-9_.\/-]+$/.test(k) && !reserved.test(k) ? k : JSON.stringify(k));
    const empty = (v) => (Array.isArray(v) ? v.length === 0 : v && typeof v === "object" ? Object.keys(v).length === 0 : false);
    const isBlock = (v) => v !== null && typeof v === "object" && !empty(v);
    function lines(v, indent) {
      const pad = "  ".repeat(indent);
      if (Array.isArray(v)) return v.map((item) => {
        if (!isBlock(item)) return `${pad}- ${empty(item) ? (Array.isArray(item) ? "[]" : "{}") : scalar(item)}`;
        const inner = lines(item, indent + 1);
        return `${pad}- ${inner.slice((indent + 1) * 2)}`;
      }).join("\n");
      return Object.entries(v).map(([k, item]) => isBlock(item)
        ? `${pad}${key(k)}:\n${lines(item, Array.isArray(item) ? indent : indent + 1)}`
        : `${pad}${key(k)}: ${empty(item) ? (Array.isArray(item) ? "[]" : "{}") : scalar(item)}`).join("\n");
    }
    return { dump: (v) => lines(v, 0) + "\n" };
  })();
})();
