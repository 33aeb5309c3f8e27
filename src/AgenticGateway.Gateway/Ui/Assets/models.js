// Models & deployments: the models the gateway serves (from its config file, or stored in its database through
// LiteLLM's model management API: /model/new, /model/update, /model/delete, /v2/model/info), and what the router
// knows about each deployment right now (health, cooldowns, latency, load, price).
"use strict";

(() => {
  const { pages, api, unavailable, el, every, fmt, table, named, badge, section, confirmButton, form, banner } = AGW;
  const perMillion = (perToken) => (perToken === null || perToken === undefined ? null : perToken * 1e6);
  const price = (input, output) => (input === null || input === undefined ? badge("unpriced", "warn unpriced") : `${fmt.usd(perMillion(input))} / ${fmt.usd(perMillion(output))}`);
  const num = (v) => (v === null || v === undefined || v === "" ? undefined : Number(v));

  pages.models = {
    title: "Models & deployments",
    async render(root) {
      const intro = el("p", { class: "muted" });
      const editor = el("div", { id: "model-editor" });
      const stored = el("div", { id: "models-list" });
      const live = el("div");
      const storedState = { page: 0 }, liveState = { page: 0 };
      let deployments = { data: [] };
      let managed = true;

      // ----- the model form: add, or edit a model stored in the database -----
      const showForm = (model) => {
        const p = (model && model.litellm_params) || {};
        const info = (model && model.model_info) || {};
        const input = p.input_cost_per_token ?? info.input_cost_per_token, output = p.output_cost_per_token ?? info.output_cost_per_token;
        const f = form([
          { name: "model_name", label: "Public model name", required: true, placeholder: "gpt-4o", value: model && model.model_name },
          { name: "model", label: "Provider/model", required: true, placeholder: "openai/gpt-4o", value: p.model },
          { name: "api_base", label: "API base", placeholder: "https://api.openai.com/v1 (empty: provider default)", value: p.api_base },
          { name: "api_key", label: model ? "API key (empty: keep)" : "API key", type: "password", placeholder: "sk-... or os.environ/OPENAI_API_KEY" },
          { name: "rpm", label: "Requests / min", type: "number", value: p.rpm },
          { name: "tpm", label: "Tokens / min", type: "number", value: p.tpm },
          { name: "input_per_million", label: "Input $ / 1M tokens", type: "number", value: perMillion(input), placeholder: "empty: built-in price" },
          { name: "output_per_million", label: "Output $ / 1M tokens", type: "number", value: perMillion(output), placeholder: "empty: built-in price" },
        ], model ? "Save model" : "Add model", async (v) => {
          const params = { model: v.model };
          if (v.api_base) params.api_base = v.api_base;
          if (v.api_key) params.api_key = v.api_key;
          if (num(v.rpm) !== undefined) params.rpm = num(v.rpm);
          if (num(v.tpm) !== undefined) params.tpm = num(v.tpm);
          if (num(v.input_per_million) !== undefined) params.input_cost_per_token = num(v.input_per_million) / 1e6;
          if (num(v.output_per_million) !== undefined) params.output_cost_per_token = num(v.output_per_million) / 1e6;
          if (model) await api("/model/update", { body: { model_name: v.model_name, litellm_params: params, model_info: { id: model.model_info.id } } });
          else await api("/model/new", { body: { model_name: v.model_name, litellm_params: params } });
          banner(model ? `Model ${v.model_name} saved.` : `Model ${v.model_name} added.`, "info");
          showForm(null);
          await loadLive();
          await loadStored();
          return false;
        }, "model-form", { keep: !!model, buttons: model ? [el("button", { type: "button", class: "secondary", onclick: () => showForm(null) }, "Cancel")] : [] });
        editor.replaceChildren(section(model ? `Edit ${model.model_name}` : "Add a model", f,
          el("p", { class: "muted small" }, "Stored in the gateway's database and served by every replica at once (LiteLLM's store_model_in_db); models from the config file are edited there.")));
      };

      // ----- the models, config and database, from /v2/model/info -----
      const loadStored = async () => {
        let r;
        try { r = await api("/v2/model/info?size=500"); }
        catch (e) {
          if (!unavailable(e)) throw e;
          managed = false;
          editor.replaceChildren();
          stored.replaceChildren(el("div", { class: "unavailable", role: "status", id: "models-unavailable" },
            el("strong", {}, "Model management is not available on this gateway."),
            ` /v2/model/info answered ${e.status} (${e.message}). The deployments below come from the config file.`));
          return;
        }
        const liveById = Object.fromEntries(deployments.data.map((d) => [d.id, d]));
        stored.replaceChildren(section("Models", table([
          { title: "Model", cls: "nowrap", value: (m) => m.model_name },
          { title: "Provider/model", value: (m) => (m.litellm_params || {}).model || "–" },
          { title: "API base", value: (m) => (m.litellm_params || {}).api_base || (liveById[(m.model_info || {}).id] || {}).api_base || "provider default" },
          { title: "Source", value: (m) => (m.model_info || {}).db_model ? badge("database", "ok") : badge("config file", "") },
          { title: "Price in/out per 1M", cls: "num", value: (m) => {
            const p = m.litellm_params || {}, i = m.model_info || {}, d = liveById[i.id];
            const input = p.input_cost_per_token ?? i.input_cost_per_token ?? (d ? d.input_cost_per_token : null);
            const output = p.output_cost_per_token ?? i.output_cost_per_token ?? (d ? d.output_cost_per_token : null);
            return price(input, output);
          } },
          { title: "State", value: (m) => { const d = liveById[(m.model_info || {}).id]; return d ? badge(d.state, d.state === "healthy" ? "ok" : d.state === "cooldown" ? "bad" : "warn") : "–"; } },
          { title: "", cls: "actions", value: (m) => (m.model_info || {}).db_model
            ? [el("button", { type: "button", class: "small", onclick: () => { showForm(m); editor.scrollIntoView({ block: "nearest" }); } }, "Edit"),
              confirmButton("Delete", async () => {
                await api("/model/delete", { body: { id: m.model_info.id } });
                banner(`Model ${m.model_name} deleted.`, "info");
                await loadLive();
                await loadStored();
              })]
            : el("span", { class: "muted small" }, "in config") },
        ], r.data, "No models yet: add one above.", { id: "models-table", state: storedState, rowAttrs: (m) => ({ "data-model": m.model_name, "data-id": (m.model_info || {}).id }) })));
      };

      // ----- the router's view of every deployment, refreshed -----
      const loadLive = async () => {
        deployments = await api("/ui/api/deployments");
        const r = deployments.router;
        intro.textContent = `Routing: ${r.strategy}; a deployment cools down for ${r.cooldown_s}s after ${r.allowed_fails} failures; ${r.num_retries} retries.`;
        live.replaceChildren(section("Deployments: live state", table([
          { title: "Model", cls: "nowrap", value: (d) => d.model },
          { title: "Deployment", cls: "name", value: (d) => el("span", { class: "named", title: "id " + d.id }, d.name, el("span", { class: "muted small id" }, d.api_base)) },
          { title: "State", value: (d) => [badge(d.state, d.state === "healthy" ? "ok" : d.state === "cooldown" ? "bad" : "warn"),
            d.cooldown_remaining_s === null ? null : el("div", { class: "muted small" }, `${d.cooldown_remaining_s} s left`)] },
          { title: "In flight", cls: "num", value: (d) => fmt.int(d.in_flight) },
          { title: "Latency / TTFT", cls: "num", value: (d) => (d.latency_ms === null && d.ttft_ms === null ? "–" : `${fmt.ms(d.latency_ms)} / ${fmt.ms(d.ttft_ms)}`) },
          { title: "Requests / min", cls: "num", value: (d) => fmt.int(d.requests_this_minute) + (d.rpm ? " / " + fmt.int(d.rpm) : "") },
          { title: "Tokens / min", cls: "num", value: (d) => fmt.int(d.tokens_this_minute) + (d.tpm ? " / " + fmt.int(d.tpm) : "") },
          { title: "Price in/out per 1M", cls: "num", value: (d) => price(d.input_cost_per_token, d.output_cost_per_token) },
        ], deployments.data, "No deployments configured.", { id: "deployments-table", state: liveState, rowAttrs: (d) => ({ "data-deployment": d.id }) })));
      };

      root.append(intro, editor, stored, live);
      await loadLive();
      await loadStored();
      if (managed) showForm(null);
      every(3000, () => loadLive().catch((e) => banner(e.message)));
    },
  };
})();
