// The admin UI's pages. Each renders into its root from the admin APIs and may refresh itself with AGW.every.
"use strict";

(() => {
  const { pages, api, el, banner, every, fmt, table, badge, confirmButton, form, secretOnce } = AGW;
  const section = (title, ...children) => el("section", { class: "panel" }, el("h3", {}, title), children);
  const stat = (id, label, value, sub) => el("div", { class: "stat" }, el("span", { class: "label" }, label), el("span", { class: "value", id }, value), sub ? el("span", { class: "sub muted" }, sub) : null);
  const statusBadge = (code) => badge(String(code), code >= 500 ? "bad" : code >= 400 ? "warn" : "ok");
  const limits = (x) => [x.rpm_limit ? `${fmt.int(x.rpm_limit)} rpm` : null, x.tpm_limit ? `${fmt.int(x.tpm_limit)} tpm` : null,
    x.max_parallel_requests ? `${x.max_parallel_requests} parallel` : null].filter(Boolean).join(", ") || "–";
  const budget = (x) => `${fmt.usd(x.spend)} / ${x.max_budget === null ? "∞" : fmt.usd(x.max_budget)}${x.budget_duration ? " per " + x.budget_duration : ""}`;

  // ---- Overview --------------------------------------------------------------------------------------------
  pages.overview = {
    title: "Overview",
    async render(root) {
      const windows = { "15 minutes": 15, "1 hour": 60, "6 hours": 360, "24 hours": 1440 };
      const picker = el("select", { id: "overview-window" }, Object.keys(windows).map((k) => el("option", { value: windows[k], selected: windows[k] === 60 }, k)));
      const body = el("div", { id: "overview-body" });
      root.append(el("div", { class: "toolbar" }, el("label", {}, "Window ", picker)), body);
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
            { title: "Cost", cls: "num", value: (m) => fmt.usd(m.stats.cost) },
          ], o.by_model, "No requests in this window.")),
          el("p", { class: "muted small" }, `From the last ${fmt.int(o.capacity)} requests kept in memory (${fmt.int(o.recorded_total)} since start); ${o.bucket_seconds}s per bar. Longer history: Spend.`));
        AGW.$("page-status").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
      };
      picker.addEventListener("change", load);
      await load();
      every(5000, () => load().catch((e) => banner(e.message)));
    },
  };

  // ---- Keys ------------------------------------------------------------------------------------------------
  pages.keys = {
    title: "Keys",
    async render(root) {
      const shown = el("div", { id: "key-secret" });
      const list = el("div");
      const load = async () => {
        const r = await api("/key/list?return_full_object=true&size=1000");
        list.replaceChildren(table([
          { title: "Alias", value: (k) => k.key_alias || "–" },
          { title: "Key", value: (k) => el("code", {}, k.key_name) },
          { title: "Team", value: (k) => k.team_id || "–" },
          { title: "User", value: (k) => k.user_id || "–" },
          { title: "Models", value: (k) => fmt.list(k.models) },
          { title: "Spend / budget", value: budget },
          { title: "Limits", value: limits },
          { title: "Expires", value: (k) => fmt.time(k.expires) },
          { title: "Status", value: (k) => k.blocked ? badge("blocked", "bad") : badge("active", "ok") },
          { title: "", cls: "actions", value: (k) => [
            el("button", { type: "button", class: "small", onclick: () => act(() => regenerate(k)) }, "Regenerate"),
            el("button", { type: "button", class: "small", onclick: () => act(() => api(k.blocked ? "/key/unblock" : "/key/block", { body: { key: k.token } })) }, k.blocked ? "Unblock" : "Block"),
            confirmButton("Delete", () => act(() => api("/key/delete", { body: { keys: [k.token] } }))),
          ] },
        ], r.keys, "No keys yet.", { id: "keys-table", rowAttrs: (k) => ({ "data-alias": k.key_alias || "" }) }));
      };
      const act = async (fn) => { await fn(); await load(); };
      const regenerate = async (k) => {
        const r = await api("/key/regenerate", { body: { key: k.token } });
        shown.replaceChildren(secretOnce(`New secret for ${k.key_alias || k.key_name} (the old one no longer works)`, r.key));
      };
      const create = form([
        { name: "key_alias", label: "Alias", placeholder: "ci-bot" },
        { name: "models", label: "Models", type: "list", placeholder: "gpt-4o, gpt-4o-mini (empty: all)" },
        { name: "team_id", label: "Team" },
        { name: "user_id", label: "User" },
        { name: "max_budget", label: "Max budget (USD)", type: "number" },
        { name: "budget_duration", label: "Budget period", placeholder: "30d" },
        { name: "rpm_limit", label: "Requests / min", type: "number" },
        { name: "tpm_limit", label: "Tokens / min", type: "number" },
        { name: "max_parallel_requests", label: "Parallel requests", type: "number" },
        { name: "duration", label: "Expires after", placeholder: "90d" },
      ], "Create key", async (values) => {
        const r = await api("/key/generate", { body: values });
        shown.replaceChildren(secretOnce(`New key ${r.key_alias || r.key_name}`, r.key));
        await load();
      }, "create-key");
      root.append(shown, section("Create a key", create), section("Keys", list));
      await load();
    },
  };

  // ---- Teams and users -------------------------------------------------------------------------------------
  pages.teams = {
    title: "Teams & users",
    async render(root) {
      const shown = el("div");
      const teams = el("div"), users = el("div");
      const load = async () => {
        const [t, u] = await Promise.all([api("/team/list"), api("/ui/api/users")]);
        teams.replaceChildren(table([
          { title: "Team", value: (x) => x.team_id },
          { title: "Alias", value: (x) => x.team_alias || "–" },
          { title: "Models", value: (x) => fmt.list(x.models) },
          { title: "Members", cls: "num", value: (x) => fmt.int((x.members_with_roles || x.members || []).length) },
          { title: "Spend / budget", value: budget },
          { title: "Limits", value: limits },
          { title: "Status", value: (x) => x.blocked ? badge("blocked", "bad") : badge("active", "ok") },
          { title: "", cls: "actions", value: (x) => confirmButton("Delete", async () => { await api("/team/delete", { body: { team_ids: [x.team_id] } }); await load(); }) },
        ], t, "No teams yet.", { id: "teams-table" }));
        users.replaceChildren(table([
          { title: "User", value: (x) => x.user_id },
          { title: "Email", value: (x) => x.user_email || "–" },
          { title: "Role", value: (x) => x.user_role || "–" },
          { title: "Teams", value: (x) => x.teams.join(", ") || "–" },
          { title: "Spend / budget", value: budget },
          { title: "", cls: "actions", value: (x) => confirmButton("Delete", async () => { await api("/user/delete", { body: { user_ids: [x.user_id] } }); await load(); }) },
        ], u, "No users yet.", { id: "users-table" }));
      };
      const newTeam = form([
        { name: "team_id", label: "Team id" }, { name: "team_alias", label: "Alias" },
        { name: "models", label: "Models", type: "list", placeholder: "empty: all" },
        { name: "max_budget", label: "Max budget (USD)", type: "number" }, { name: "budget_duration", label: "Budget period", placeholder: "30d" },
        { name: "rpm_limit", label: "Requests / min", type: "number" }, { name: "tpm_limit", label: "Tokens / min", type: "number" },
      ], "Create team", async (v) => { await api("/team/new", { body: v }); await load(); }, "create-team");
      const newUser = form([
        { name: "user_id", label: "User id" }, { name: "user_email", label: "Email" },
        { name: "user_role", label: "Role", type: "select", options: ["internal_user", "internal_user_viewer", "proxy_admin"] },
        { name: "teams", label: "Teams", type: "list" }, { name: "max_budget", label: "Max budget (USD)", type: "number" },
        { name: "auto_create_key", label: "Create a key", type: "checkbox", checked: true },
      ], "Create user", async (v) => {
        const r = await api("/user/new", { body: v });
        shown.replaceChildren(r.key ? secretOnce(`Key for user ${r.user_id}`, r.key) : "");
        await load();
      }, "create-user");
      root.append(shown, el("div", { class: "two" }, section("Create a team", newTeam), section("Create a user", newUser)), section("Teams", teams), section("Users", users));
      await load();
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
        const [report, keys, logs] = await Promise.all([
          api(`/global/spend/report?group_by=${groupBy.value}&start_date=${start.value}&end_date=${end.value}`),
          api("/spend/keys?limit=1000"),
          api(`/spend/logs?start_date=${start.value}&end_date=${end.value}&limit=50`),
        ]);
        for (const k of keys) names[k.token] = k.key_alias || k.key_name;
        const listName = { api_key: "keys", team: "teams", model: "models", user: "users" }[groupBy.value];
        const field = { api_key: "api_key", team: "team_name", model: "model", user: "user_id" }[groupBy.value];
        const label = (g) => (groupBy.value === "api_key" ? names[g] || g : g) || "(none)";
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
          ], report.flatMap((d) => d[listName].map((g) => ({ day: d.group_by_day, g }))).reverse(), "No spend in this period.")),
          section("Latest spend logs", table([
            { title: "Time", value: (l) => fmt.time(l.startTime) }, { title: "Key", value: (l) => l.key_alias || names[l.api_key] || l.api_key },
            { title: "Model", value: (l) => l.model }, { title: "Status", value: (l) => statusBadge(l.http_status) },
            { title: "Tokens", cls: "num", value: (l) => fmt.int(l.total_tokens) }, { title: "Spend", cls: "num", value: (l) => fmt.usd(l.spend) },
          ], logs.slice(0, 50), "No spend logs in this period.")));
      };
      for (const c of [groupBy, start, end]) c.addEventListener("change", () => load().catch((e) => banner(e.message)));
      await load();
    },
  };

  // ---- Models and deployments ------------------------------------------------------------------------------
  pages.models = {
    title: "Models & deployments",
    async render(root) {
      const body = el("div");
      root.append(body);
      const load = async () => {
        const r = await api("/ui/api/deployments");
        body.replaceChildren(
          el("p", { class: "muted" }, `Routing: ${r.router.strategy}; a deployment cools down for ${r.router.cooldown_s}s after ${r.router.allowed_fails} failures; ${r.router.num_retries} retries.`),
          section("Deployments", table([
            { title: "Model", value: (d) => d.model },
            { title: "Deployment", value: (d) => el("code", {}, d.id) },
            { title: "Provider", value: (d) => `${d.provider} / ${d.upstream_model}` },
            { title: "API base", value: (d) => d.api_base },
            { title: "State", value: (d) => badge(d.state, d.state === "healthy" ? "ok" : d.state === "cooldown" ? "bad" : "warn") },
            { title: "Cooldown left", cls: "num", value: (d) => d.cooldown_remaining_s === null ? "–" : d.cooldown_remaining_s + " s" },
            { title: "In flight", cls: "num", value: (d) => fmt.int(d.in_flight) },
            { title: "Latency", cls: "num", value: (d) => fmt.ms(d.latency_ms) },
            { title: "TTFT", cls: "num", value: (d) => fmt.ms(d.ttft_ms) },
            { title: "Req this min", cls: "num", value: (d) => fmt.int(d.requests_this_minute) + (d.rpm ? " / " + fmt.int(d.rpm) : "") },
            { title: "Tokens this min", cls: "num", value: (d) => fmt.int(d.tokens_this_minute) + (d.tpm ? " / " + fmt.int(d.tpm) : "") },
            { title: "Price in/out per 1M", cls: "num", value: (d) => d.input_cost_per_token === null ? "–" : `${fmt.usd(d.input_cost_per_token * 1e6)} / ${fmt.usd(d.output_cost_per_token * 1e6)}` },
          ], r.data, "No deployments configured.", { id: "deployments-table" })));
      };
      await load();
      every(3000, () => load().catch((e) => banner(e.message)));
    },
  };

  // ---- Sandboxes -------------------------------------------------------------------------------------------
  pages.sandboxes = {
    title: "Sandboxes",
    async render(root) {
      const list = el("div"), detail = el("div", { id: "sandbox-detail" });
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
          { title: "Owner", value: (s) => s.owner.length > 24 ? s.owner.slice(0, 24) + "…" : s.owner },
          { title: "Created", value: (s) => fmt.time(s.created_at) },
          { title: "Expires", value: (s) => fmt.time(s.expires_at) },
          { title: "Resources", value: (s) => `${s.cpu} CPU, ${s.memory_mb} MB, ${s.disk_mb} MB disk` },
          { title: "Network", value: (s) => s.network === "none" ? "none" : "allow " + s.allow_hosts.join(", ") },
          { title: "Metadata", value: (s) => Object.entries(s.metadata).map(([k, v]) => `${k}=${v}`).join(", ") || "–" },
          { title: "", cls: "actions", value: (s) => [
            el("button", { type: "button", class: "small", onclick: () => inspect(s.id).catch((e) => banner(e.message)) }, "Inspect"),
            confirmButton("Kill", async () => { await api(`/ui/api/sandboxes/${encodeURIComponent(s.id)}`, { method: "DELETE" }); detail.replaceChildren(); banner(`Sandbox ${s.id} killed.`, "info"); await load(); }),
          ] },
        ], r.data, "No sandboxes running.", { id: "sandboxes-table", rowAttrs: (s) => ({ "data-id": s.id }) })));
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
      root.append(el("div", { class: "toolbar" }, filter, pause), body);
      const draw = () => {
        const q = filter.value.trim().toLowerCase();
        const shown = q ? rows.filter((r) => [r.request_id, r.key_alias, r.key_name, r.team_id, r.model, r.deployment, String(r.status), r.error].some((v) => v && String(v).toLowerCase().includes(q))) : rows;
        body.replaceChildren(el("div", { class: "panel" }, table([
          { title: "Time", value: (r) => fmt.time(r.time).slice(11) },
          { title: "Request id", value: (r) => el("code", {}, r.request_id) },
          { title: "Key", value: (r) => r.key_alias || r.key_name || "–" },
          { title: "Team", value: (r) => r.team_id || "–" },
          { title: "Model", value: (r) => r.model },
          { title: "Deployment", value: (r) => r.deployment || "–" },
          { title: "Status", value: (r) => [statusBadge(r.status), r.error ? el("span", { class: "muted small" }, " " + r.error) : null] },
          { title: "Latency", cls: "num", value: (r) => fmt.ms(r.latency_ms) },
          { title: "Tokens in/out", cls: "num", value: (r) => `${fmt.int(r.prompt_tokens)} / ${fmt.int(r.completion_tokens)}` },
          { title: "Cost", cls: "num", value: (r) => fmt.usd(r.cost) },
        ], shown, "Waiting for requests…", { id: "log-table", rowAttrs: (r) => ({ "data-request-id": r.request_id }) })));
      };
      const poll = async () => {
        if (paused) return;
        const r = await api(`/ui/api/requests?after=${last}&limit=500`);
        last = r.last_seq;
        if (r.data.length) { rows.unshift(...r.data); rows.length = Math.min(rows.length, 500); }
        draw();
        AGW.$("page-status").textContent = `${rows.length} shown · live`;
      };
      filter.addEventListener("input", draw);
      await poll();
      every(1500, () => poll().catch((e) => banner(e.message)));
    },
  };

  // ---- Configuration ---------------------------------------------------------------------------------------
  pages.config = {
    title: "Configuration",
    async render(root) {
      const c = await api("/ui/api/config");
      root.append(el("p", { class: "muted" }, `The configuration the gateway runs with now (from ${c.source}), defaults included. Secrets show as ***.`),
        el("pre", { class: "json", id: "config-json" }, JSON.stringify(c, null, 2)));
    },
  };
})();
