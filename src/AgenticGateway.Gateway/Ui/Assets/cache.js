// The admin UI's cache page: the response cache's statistics (hits, semantic hits, misses, hit rate, tokens and dollars
// saved, per model group), its backend's health (/cache/ping), and the flush. Data comes from the cache API
// (/cache/stats, /cache/ping, /cache/flushall); everything is written with textContent (AGW.el).
"use strict";

(() => {
  const { pages, api, ApiError, el, banner, every, fmt, table, badge, section, confirmButton } = AGW;

  pages.cache = {
    title: "Cache",
    async render(root) {
      const health = el("div"), totals = el("div"), models = el("div"), actions = el("div");
      root.append(health, totals, models, actions);

      const load = async () => {
        let stats, ping;
        try { stats = await api("/cache/stats"); }
        catch (e) {
          if (e instanceof ApiError && e.status === 503) {
            health.replaceChildren(el("div", { class: "unavailable", role: "status" },
              "No cache is configured: set litellm_settings.cache (or cache:) in the configuration."));
            totals.replaceChildren(); models.replaceChildren(); actions.replaceChildren();
            return;
          }
          throw e;
        }
        try { ping = await api("/cache/ping"); } catch (e) { ping = { status: "unhealthy", error: e.message }; }
        health.replaceChildren(section("Backend", el("dl", { class: "kv" },
          el("dt", {}, "Type"), el("dd", {}, stats.cache_type),
          el("dt", {}, "Health"), el("dd", {}, badge(ping.status, ping.status === "healthy" ? "ok" : "bad"), ping.error ? el("span", { class: "muted small" }, " " + ping.error) : null),
          stats.semantic_index_size !== undefined ? [el("dt", {}, "Semantic index"), el("dd", {}, fmt.int(stats.semantic_index_size) + " prompts")] : null)));
        const row = (name, s) => ({ name, ...s });
        totals.replaceChildren(section("Totals", table(columns(), [row("all models", stats)], "No lookups yet.", { id: "cache-totals" })));
        const byModel = Object.entries(stats.by_model || {}).map(([m, s]) => row(m, s));
        models.replaceChildren(section("By model group", table(columns(), byModel, "No lookups yet.", { id: "cache-by-model" })));
      };

      const columns = () => [
        { title: "Model group", cls: "name", value: (s) => s.name },
        { title: "Hits", cls: "num", value: (s) => fmt.int(s.hits) },
        { title: "Semantic hits", cls: "num", value: (s) => fmt.int(s.semantic_hits) },
        { title: "Misses", cls: "num", value: (s) => fmt.int(s.misses) },
        { title: "Hit rate", cls: "num", value: (s) => fmt.pct(s.hit_rate || 0) },
        { title: "Tokens saved", cls: "num", value: (s) => fmt.int(s.tokens_saved) },
        { title: "Saved", cls: "num", value: (s) => fmt.usd(s.cost_saved_usd || 0) },
      ];

      actions.replaceChildren(section("Flush", el("p", { class: "muted" }, "Removes every cached answer and the semantic index, on every replica."),
        confirmButton("Flush cache", async () => {
          await api("/cache/flushall", { body: {} });
          banner("");
          await load();
        }, { id: "cache-flush" })));
      await load();
      every(10000, () => load().catch((e) => banner(e.message)));
    },
  };
})();
