// The admin UI's routing page: the latest routing decisions the policies made (GET /routing/decisions), each with the
// candidates and the reasons each was allowed, preferred or forbidden, and the loaded policies (GET /policies) with
// their source. Policy text and reasons come from policy files: they are only ever written with textContent (AGW.el).
"use strict";

(() => {
  const { pages, api, unavailable, el, every, table, badge, section, fmt } = AGW;
  const decisionBadge = (d) => badge(d, d === "allow" ? "ok" : d === "deny" ? "bad" : "warn");

  /** Each candidate on a line: its deployment, allowed or forbidden (preferred marked), and the reasons. */
  function candidates(d) {
    if (!d.candidates || !d.candidates.length) return "–";
    return el("ul", { class: "routing-candidates" }, d.candidates.map((c) =>
      el("li", { "data-deployment": c.deployment },
        el("span", { class: "item" }, c.deployment), " ",
        badge(c.allowed ? (c.preferred ? "preferred" : "allowed") : "forbidden", c.allowed ? (c.preferred ? "ok" : "") : "bad"),
        c.reasons && c.reasons.length ? el("ul", { class: "routing-reasons" }, c.reasons.map((r) => el("li", { class: "muted small" }, r))) : null)));
  }

  const caller = (d) => [d.key_alias, d.team_id && "team " + d.team_id, d.user_id && "user " + d.user_id].filter(Boolean).join(", ") || "–";

  pages.routing = {
    title: "Routing",
    async render(root) {
      const filters = el("div"), decisions = el("div"), policies = el("div");
      root.append(filters, decisions, policies);
      const state = { decisions: { page: 0 }, policies: { page: 0 } };
      const model = el("input", { type: "search", id: "routing-model", placeholder: "model or group", "aria-label": "Model" });
      const kind = el("select", { id: "routing-decision", "aria-label": "Decision" },
        el("option", { value: "" }, "all decisions"), el("option", { value: "allow" }, "allow"),
        el("option", { value: "deny" }, "deny"), el("option", { value: "dry_run" }, "dry_run"));
      filters.replaceChildren(section("Filter", el("div", { class: "toolbar" }, model, kind)));

      const loadDecisions = async () => {
        const query = new URLSearchParams({ limit: "200" });
        if (model.value.trim()) query.set("model", model.value.trim());
        if (kind.value) query.set("decision", kind.value);
        let list;
        try { list = await api("/routing/decisions?" + query); }
        catch (e) {
          if (!unavailable(e)) throw e;
          decisions.replaceChildren(el("div", { class: "unavailable", role: "status" }, "This gateway does not record routing decisions."));
          return;
        }
        decisions.replaceChildren(section("Latest decisions", table([
          { title: "Time", value: (d) => fmt.time(d.created_at) },
          { title: "Model", cls: "name", value: (d) => el("span", { title: d.id }, d.requested_model === d.model_group ? d.model_group : `${d.requested_model} → ${d.model_group}`) },
          { title: "Decision", value: (d) => [decisionBadge(d.decision), d.dry_run && d.decision !== "dry_run" ? [" ", badge("dry run", "warn")] : null] },
          { title: "Chosen", value: (d) => d.chosen_deployment ? [el("span", { class: "item" }, d.chosen_deployment), el("span", { class: "muted small" }, " " + (d.provider || ""))] : "–" },
          { title: "Policies", value: (d) => fmt.items(d.policies, "none") },
          { title: "Candidates and reasons", value: candidates },
          { title: "Caller", value: caller },
          { title: "Evaluation", cls: "num", value: (d) => fmt.int(d.latency_us) + " µs" },
        ], list.data, "No routing decisions recorded yet.", { id: "routing-decisions", state: state.decisions,
          rowAttrs: (d) => ({ "data-id": d.id, "data-decision": d.decision }) })));
      };

      const loadPolicies = async () => {
        let loaded;
        try { loaded = await api("/policies"); }
        catch (e) {
          if (!unavailable(e)) throw e;
          loaded = null;
        }
        const list = loaded && loaded.policies ? loaded.policies : [];
        if (!loaded || !list.length) {
          policies.replaceChildren(section("Policies", el("div", { class: "unavailable", role: "status", id: "routing-no-policies" },
            "No routing policies are loaded: set routing_policies.file in the configuration.")));
          return;
        }
        const reload = loaded.last_reload;
        const status = el("dl", { class: "kv", id: "routing-policy-status" },
          el("dt", {}, "Files"), el("dd", {}, fmt.items(loaded.files, "–")),
          el("dt", {}, "Mode"), el("dd", {}, loaded.dry_run ? badge("dry run", "warn") : badge("enforced", "ok")),
          el("dt", {}, "Decisions recorded"), el("dd", {}, fmt.pct(loaded.decision_sample_rate || 0) + " of allowed ones, every denial"),
          reload ? [el("dt", {}, "Last reload"), el("dd", {}, badge(reload.succeeded ? "loaded" : "failed", reload.succeeded ? "ok" : "bad"),
            " " + fmt.time(reload.at) + " (" + reload.trigger + ")",
            reload.errors && reload.errors.length ? el("ul", { class: "edge-errors" }, reload.errors.map((e) => el("li", { class: "error small" }, e))) : null)] : null);
        policies.replaceChildren(section("Policies", status, table([
          { title: "Policy", cls: "name", value: (p) => el("span", { class: "item" }, p.id) },
          { title: "Effect", value: (p) => badge(p.effect, p.effect === "forbid" ? "bad" : "ok") },
          { title: "Priority", cls: "num", value: (p) => fmt.int(p.priority || 0) },
          { title: "Source", value: (p) => el("code", {}, `${p.file}:${p.line}`) },
          { title: "Text", value: (p) => el("pre", { class: "definition policy" }, p.text) },
        ], list, "No policies.", { id: "routing-policies", state: state.policies, rowAttrs: (p) => ({ "data-id": p.id, "data-effect": p.effect }) })));
      };

      model.addEventListener("change", () => loadDecisions().catch(() => {}));
      kind.addEventListener("change", () => loadDecisions().catch(() => {}));
      await Promise.all([loadDecisions(), loadPolicies()]);
      every(10000, () => loadDecisions().catch(() => {}));
    },
  };
})();
