// The admin UI's MCP page: the servers behind /mcp and their health, every tool's pin, the quarantine (held
// definitions to read and approve), and who may use which server (keys' and teams' object_permission).
// Everything an upstream sends (tool names, descriptions, schemas, errors) is an attacker's text: it is only ever
// written with textContent (AGW.el), never parsed as HTML.
"use strict";

(() => {
  const { pages, api, unavailable, el, banner, every, fmt, table, named, badge, section } = AGW;
  const pinBadge = (status) => badge(status, status === "approved" ? "ok" : status === "quarantined" ? "bad" : "warn");
  const shortHash = (h) => (h ? el("code", { class: "hash", title: h }, h.slice(0, 12)) : "–");
  /** A JSON value as indented text, for a <pre> (never markup). */
  const json = (v) => JSON.stringify(v, null, 2);

  // One held definition: what the model would read (description, input schema, and the rest), why it is held, and
  // the button that approves exactly this definition (its hash: a later change is held again, not approved with it).
  function heldCard(p, approve) {
    const d = p.pending_definition || {};
    const rest = Object.fromEntries(Object.entries(d).filter(([k, v]) => !["name", "description", "inputSchema"].includes(k) && v !== null && v !== undefined));
    const button = el("button", { type: "button", class: "small" }, "Approve");
    button.addEventListener("click", () => approve(p, button));
    return el("article", { class: "held-tool", "data-server": p.server, "data-tool": p.tool },
      el("h4", {}, el("span", { class: "item" }, p.server), " / ", el("span", { class: "item" }, p.tool), " ", pinBadge(p.status)),
      el("dl", { class: "kv" },
        el("dt", {}, "Why held"), el("dd", { class: "reason" }, p.reason || "–"),
        el("dt", {}, "Held since"), el("dd", {}, fmt.time(p.updated_at) + " UTC"),
        el("dt", {}, "Approved now"), el("dd", {}, p.approved_hash ? [shortHash(p.approved_hash), p.approved_by === "first sight" ? " (on first sight)" : p.approved_by ? ` by ${p.approved_by}` : null] : "nothing yet (a new tool)"),
        el("dt", {}, "Held definition"), el("dd", {}, shortHash(p.pending_hash))),
      el("h5", {}, "Description"),
      el("pre", { class: "definition description" }, typeof d.description === "string" ? d.description : "(none)"),
      el("h5", {}, "Input schema"),
      el("pre", { class: "definition schema" }, d.inputSchema === undefined ? "(none)" : json(d.inputSchema)),
      Object.keys(rest).length ? [el("h5", {}, "Other fields"), el("pre", { class: "definition other" }, json(rest))] : null,
      el("div", { class: "form-buttons" }, button,
        el("span", { class: "muted small" }, "Approving serves this exact definition; a later change is held again.")));
  }

  /** A key's or team's MCP grants in words: "all" where a level does not restrict. */
  function grants(op) {
    const tools = op.mcp_tool_permissions ? Object.entries(op.mcp_tool_permissions).map(([s, t]) => `${s}: ${t.join(", ") || "none"}`) : [];
    return {
      servers: op.mcp_servers === null || op.mcp_servers === undefined ? "not restricted" : fmt.items(op.mcp_servers, "none"),
      groups: fmt.items(op.mcp_access_groups || [], "–"),
      tools: fmt.items(tools, "–"),
      blocked: fmt.items(op.blocked_tools || [], "–"),
    };
  }

  pages.mcp = {
    title: "MCP",
    async render(root) {
      const servers = el("div"), tools = el("div"), held = el("div", { id: "mcp-held" }), permissions = el("div");
      const toolState = { page: 0 };
      root.append(servers, held, tools, permissions);

      const load = async () => {
        let list, pins;
        try { [list, pins] = await Promise.all([api("/v1/mcp/server"), api("/v1/mcp/tools/pins")]); }
        catch (e) {
          if (!unavailable(e)) throw e;
          servers.replaceChildren(el("div", { class: "unavailable", role: "status" },
            el("strong", {}, "The MCP gateway is not available on this gateway."), ` /v1/mcp/server answered ${e.status} (${e.message}).`));
          return;
        }
        servers.replaceChildren(section("Servers", table([
          { title: "Server", cls: "name", value: (s) => el("span", { class: "named" }, s.name, s.description ? el("span", { class: "muted small" }, s.description) : null) },
          { title: "Transport", value: (s) => s.transport },
          { title: "URL", value: (s) => (s.url ? el("code", {}, s.url) : "–") },
          { title: "Health", value: (s) => [badge(s.status, s.status === "healthy" ? "ok" : "bad"), s.last_error ? el("div", { class: "muted small last-error" }, s.last_error) : null] },
          { title: "Tools", cls: "num", value: (s) => fmt.int(s.tools) },
          { title: "Held", cls: "num", value: (s) => (s.tools_held ? badge(fmt.int(s.tools_held), "bad") : "0") },
        ], list, "No MCP servers are configured (mcp: servers: in the config).", { id: "mcp-servers-table", rowAttrs: (s) => ({ "data-server": s.name }) })));

        const quarantined = pins.filter((p) => p.pending_hash);
        held.replaceChildren(quarantined.length
          ? section(`Quarantine: ${quarantined.length} held ${quarantined.length === 1 ? "definition" : "definitions"}`,
            el("p", { class: "muted" }, "These tools are not listed to clients nor callable until approved. Read what the upstream now says; it is shown as plain text."),
            ...quarantined.map((p) => heldCard(p, approve)))
          : "");

        tools.replaceChildren(section("Tools", table([
          { title: "Server", value: (p) => p.server },
          { title: "Tool", cls: "name", value: (p) => el("code", {}, p.tool) },
          { title: "Status", value: (p) => pinBadge(p.status) },
          { title: "Reason", value: (p) => p.reason || "–" },
          { title: "Approved", value: (p) => (p.approved_hash ? [shortHash(p.approved_hash), el("div", { class: "muted small" }, p.approved_by || "")] : "–") },
          { title: "Updated", cls: "nowrap", value: (p) => fmt.day(p.updated_at) },
          { title: "", cls: "actions", value: (p) => (p.pending_hash
            ? el("button", { type: "button", class: "small", onclick: () => review(p) }, "Review")
            : null) },
        ], pins, "No tools seen yet.", { id: "mcp-tools-table", state: toolState, rowAttrs: (p) => ({ "data-server": p.server, "data-tool": p.tool, class: p.pending_hash ? "held" : null }) })));
        AGW.$("page-status").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
      };

      const review = (p) => {
        const card = [...held.querySelectorAll("article.held-tool")].find((a) => a.dataset.server === p.server && a.dataset.tool === p.tool);
        if (card) { card.scrollIntoView({ block: "start" }); card.querySelector("button").focus(); }
      };

      const approve = async (p, button) => {
        button.disabled = true;
        try {
          await api("/v1/mcp/tools/approve", { body: { server: p.server, tool: p.tool, hash: p.pending_hash } });
          banner(`Approved ${p.server}/${p.tool}: its definition is served again.`, "info");
        } catch (e) {
          // 409: it changed again since this page read it; the reload shows the new definition to read first.
          if (e.status !== 401) banner(e.message);
        }
        await load().catch((e) => banner(e.message));
      };

      // Who may use which server: keys and teams with an object_permission (LiteLLM's field; none set: all servers).
      const loadPermissions = async () => {
        let keys, teams;
        try {
          [keys, teams] = await Promise.all([api("/key/list?return_full_object=true&size=1000&sort_by=created_at&sort_order=desc"), api("/team/list")]);
        } catch (e) { if (e.status === 401) throw e; permissions.replaceChildren(el("p", { class: "muted" }, "Permissions could not be read: " + e.message)); return; }
        const teamName = Object.fromEntries(teams.map((t) => [t.team_id, t.team_alias || t.team_id]));
        const rows = [
          ...teams.filter((t) => t.object_permission).map((t) => ({ kind: "team", who: [named(t.team_alias, t.team_id)], id: t.team_id, op: t.object_permission })),
          ...keys.keys.filter((k) => k.object_permission).map((k) => ({ kind: "key", who: [named(k.key_alias, k.key_name), k.team_id ? el("div", { class: "muted small" }, "team " + (teamName[k.team_id] || k.team_id)) : null], id: k.key_alias || k.key_name, op: k.object_permission })),
        ];
        permissions.replaceChildren(section("Permissions (object_permission of keys and teams)", table([
          { title: "Holder", cls: "name", value: (r) => [badge(r.kind), " ", ...r.who] },
          { title: "MCP servers", value: (r) => grants(r.op).servers },
          { title: "Access groups", value: (r) => grants(r.op).groups },
          { title: "Tools per server", value: (r) => grants(r.op).tools },
          { title: "Blocked tools", value: (r) => grants(r.op).blocked },
        ], rows, "No key or team restricts MCP: every key may use every server (set object_permission on /key/* or /team/*).", { id: "mcp-permissions-table", rowAttrs: (r) => ({ "data-holder": r.id }) }),
        keys.total_pages > 1 ? el("p", { class: "muted small" }, `Keys: the newest ${fmt.int(keys.keys.length)} of ${fmt.int(keys.total_count)} are looked at.`) : null));
      };

      await load();
      await loadPermissions();
      every(10000, () => load().catch((e) => banner(e.message)));
    },
  };
})();
