// The admin UI's management pages: keys, teams (with their members and members' budgets), users and organizations,
// over LiteLLM's management API in its own request and response shapes. Lists show names (aliases, emails) with
// the ids beneath, newest first, paginated.
"use strict";

(() => {
  const { pages, api, unavailable, el, fmt, table, serverPager, named, badge, section, confirmButton, form, secretOnce } = AGW;
  const limits = (x) => fmt.items([x.rpm_limit ? `${fmt.int(x.rpm_limit)} rpm` : null, x.tpm_limit ? `${fmt.int(x.tpm_limit)} tpm` : null,
    x.max_parallel_requests ? `${x.max_parallel_requests} parallel` : null].filter(Boolean), "–");
  const budgetText = (spend, max, period) => `${fmt.usd(spend || 0)} / ${max === null || max === undefined ? "∞" : fmt.usd(max)}${period ? " per " + period : ""}`;
  const budget = (x) => budgetText(x.spend, x.max_budget, x.budget_duration);
  const newestFirst = (rows) => rows.slice().sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")));
  const notAvailable = (what, path, e) => el("div", { class: "unavailable", role: "status" },
    el("strong", {}, `${what} are not available on this gateway.`), ` ${path} answered ${e.status} (${e.message}).`);

  /** What the pages look names up in: teams, users, model names and (when the gateway has them) organizations. */
  async function directory() {
    const [teams, users, deployments, orgs] = await Promise.all([
      api("/team/list"), api("/ui/api/users"), api("/ui/api/deployments"),
      api("/organization/list").catch((e) => { if (unavailable(e)) return null; throw e; }),
    ]);
    const teamById = Object.fromEntries(teams.map((t) => [t.team_id, t]));
    const userById = Object.fromEntries(users.map((u) => [u.user_id, u]));
    const orgById = Object.fromEntries((orgs || []).map((o) => [o.organization_id, o]));
    return {
      teams, users, orgs, teamById, userById, orgById,
      models: [...new Set(deployments.data.map((d) => d.model))],
      teamName: (id) => (teamById[id] && teamById[id].team_alias) || id,
      /** A user's teams: those the user record names and those that list the user as a member (/team/member_add). */
      teamsOf: (u) => [...new Set([...(u.teams || []), ...teams.filter((t) => (t.members_with_roles || []).some((m) => m.user_id === u.user_id)).map((t) => t.team_id)])],
      /** A team named by id or alias, as its id; undefined when there is none. */
      teamId: (text) => (teamById[text] ? text : (teams.find((t) => t.team_alias === text) || {}).team_id),
      orgId: (text) => (orgById[text] ? text : ((orgs || []).find((o) => o.organization_alias === text) || {}).organization_id),
      teamChoices: teams.map((t) => [t.team_id, t.team_alias ? `${t.team_alias}` : t.team_id]),
      userChoices: users.map((u) => [u.user_id, u.user_email || u.user_id]),
    };
  }

  // ---- Keys ------------------------------------------------------------------------------------------------
  pages.keys = {
    title: "Keys",
    async render(root) {
      const shown = el("div", { id: "key-secret" });
      const list = el("div");
      const size = 25;
      let page = 1;
      let dir = await directory();
      const load = async () => {
        // Newest first, a page at a time, as LiteLLM's UI asks /key/list.
        const r = await api(`/key/list?return_full_object=true&page=${page}&size=${size}&sort_by=created_at&sort_order=desc`);
        if (r.total_pages > 0 && page > r.total_pages) { page = r.total_pages; return load(); }
        list.replaceChildren(table([
          { title: "Key", cls: "name", value: (k) => named(k.key_alias, k.key_name) },
          { title: "Team", value: (k) => k.team_id ? named(dir.teamName(k.team_id), k.team_id) : "–" },
          { title: "User", value: (k) => k.user_id ? named(dir.userById[k.user_id] && dir.userById[k.user_id].user_email, k.user_id) : "–" },
          { title: "Models", value: (k) => fmt.items(k.models) },
          { title: "Spend / budget", cls: "nowrap", value: budget },
          { title: "Limits", value: limits },
          { title: "Created / expires", cls: "nowrap", value: (k) => [fmt.day(k.created_at), el("div", { class: "muted small" }, k.expires ? ["until ", fmt.day(k.expires)] : "no expiry")] },
          { title: "Status", value: (k) => k.blocked ? badge("blocked", "bad") : badge("active", "ok") },
          { title: "", cls: "actions", value: (k) => [
            el("button", { type: "button", class: "small", onclick: () => act(() => regenerate(k)) }, "Regenerate"),
            el("button", { type: "button", class: "small", onclick: () => act(() => api(k.blocked ? "/key/unblock" : "/key/block", { body: { key: k.token } })) }, k.blocked ? "Unblock" : "Block"),
            confirmButton("Delete", () => act(() => api("/key/delete", { body: { keys: [k.token] } }))),
          ] },
        ], r.keys, "No keys yet.", { id: "keys-table", pageSize: size, rowAttrs: (k) => ({ "data-alias": k.key_alias || "" }) }),
        serverPager(r.current_page, r.total_pages, r.total_count, size, (p) => { page = p; load().catch((e) => AGW.banner(e.message)); }));
      };
      const act = async (fn) => { try { await fn(); } catch (e) { AGW.banner(e.message); } await load(); };
      const regenerate = async (k) => {
        const r = await api("/key/regenerate", { body: { key: k.token } });
        shown.replaceChildren(secretOnce(`New secret for ${k.key_alias || k.key_name} (the old one no longer works)`, r.key));
      };
      const create = form([
        { name: "key_alias", label: "Alias", placeholder: "ci-bot" },
        { name: "models", label: "Models", type: "list", placeholder: "gpt-4o, gpt-4o-mini (empty: all)", suggest: dir.models },
        { name: "team_id", label: "Team", placeholder: "name or id", suggest: dir.teamChoices,
          check: (v) => (dir.teamId(v) ? null : `Team '${v}' does not exist: create it on the Teams page first, or leave Team empty.`) },
        { name: "user_id", label: "User", placeholder: "user id", suggest: dir.userChoices,
          check: (v) => (dir.userById[v] ? null : `User '${v}' does not exist: create it on the Teams & users page first, or leave User empty.`) },
        { name: "max_budget", label: "Max budget (USD)", type: "number" },
        { name: "budget_duration", label: "Budget period", placeholder: "30d" },
        { name: "rpm_limit", label: "Requests / min", type: "number" },
        { name: "tpm_limit", label: "Tokens / min", type: "number" },
        { name: "max_parallel_requests", label: "Parallel requests", type: "number" },
        { name: "duration", label: "Expires after", placeholder: "90d" },
        { name: "mcp_servers", label: "MCP servers", type: "list", placeholder: "empty: all (the team's)" },
        { name: "blocked_tools", label: "Blocked MCP tools", type: "list", placeholder: "github-delete_repo" },
      ], "Create key", async (values) => {
        if (values.team_id) values.team_id = dir.teamId(values.team_id);
        // LiteLLM's object_permission: servers the key may use (unset: not restricted) and tools refused by their listed name.
        const { mcp_servers, blocked_tools } = values;
        delete values.mcp_servers; delete values.blocked_tools;
        if (mcp_servers || blocked_tools) values.object_permission = Object.assign({}, mcp_servers ? { mcp_servers } : null, blocked_tools ? { blocked_tools } : null);
        const r = await api("/key/generate", { body: values });
        shown.replaceChildren(secretOnce(`New key ${r.key_alias || r.key_name}`, r.key));
        page = 1;
        await load();
      }, "create-key");
      root.append(shown, section("Create a key", create), section("Keys (newest first)", list));
      await load();
      // Teams and users made elsewhere since: refresh what the form checks against when it is used.
      create.addEventListener("focusin", async () => { dir = await directory().catch(() => dir); }, { once: true });
    },
  };

  // ---- Teams, their members, and users ---------------------------------------------------------------------
  pages.teams = {
    title: "Teams & users",
    async render(root) {
      const shown = el("div");
      const teams = el("div"), users = el("div"), detail = el("div", { id: "team-detail" });
      const teamState = { page: 0 }, userState = { page: 0 };
      let dir = await directory();
      let open = null;
      const load = async () => {
        dir = await directory();
        teams.replaceChildren(table([
          { title: "Team", cls: "name", value: (x) => named(x.team_alias, x.team_id) },
          { title: "Organization", value: (x) => x.organization_id ? named(dir.orgById[x.organization_id] && dir.orgById[x.organization_id].organization_alias, x.organization_id) : "–" },
          { title: "Models", value: (x) => fmt.items(x.models) },
          { title: "Members", cls: "num", value: (x) => fmt.int((x.members_with_roles || []).length) },
          { title: "Spend / budget", cls: "nowrap", value: budget },
          { title: "Limits", value: limits },
          { title: "Created", cls: "nowrap", value: (x) => fmt.day(x.created_at) },
          { title: "Status", value: (x) => x.blocked ? badge("blocked", "bad") : badge("active", "ok") },
          { title: "", cls: "actions", value: (x) => [
            el("button", { type: "button", class: "small", onclick: () => showTeam(x.team_id).catch((e) => AGW.banner(e.message)) }, "Members"),
            confirmButton("Delete", async () => { await api("/team/delete", { body: { team_ids: [x.team_id] } }); if (open === x.team_id) { open = null; detail.replaceChildren(); } await load(); }),
          ] },
        ], newestFirst(dir.teams), "No teams yet.", { id: "teams-table", state: teamState, rowAttrs: (x) => ({ "data-team": x.team_id, class: x.team_id === open ? "selected" : null }) }));
        users.replaceChildren(table([
          { title: "User", value: (x) => named(x.user_email, x.user_id) },
          { title: "Role", value: (x) => x.user_role || "–" },
          { title: "Teams", value: (x) => fmt.items(dir.teamsOf(x).map(dir.teamName), "–") },
          { title: "Spend / budget", cls: "nowrap", value: budget },
          { title: "Created", cls: "nowrap", value: (x) => fmt.day(x.created_at) },
          { title: "", cls: "actions", value: (x) => confirmButton("Delete", async () => { await api("/user/delete", { body: { user_ids: [x.user_id] } }); await load(); }) },
        ], newestFirst(dir.users), "No users yet.", { id: "users-table", state: userState, rowAttrs: (x) => ({ "data-user": x.user_id }) }));
      };

      // One team's members: role, budget and spend inside the team (LiteLLM's team_memberships), add, change, remove.
      const showTeam = async (teamId) => {
        open = teamId;
        const info = await api(`/team/info?team_id=${encodeURIComponent(teamId)}`);
        const team = info.team_info;
        const memberships = Object.fromEntries((info.team_memberships || []).map((m) => [m.user_id, m]));
        const memberBudget = (m) => {
          const x = memberships[m.user_id];
          const b = x && x.litellm_budget_table;
          return budgetText(x ? x.spend : 0, b ? b.max_budget : null, b ? b.budget_duration : null);
        };
        const editing = el("div", { id: "member-edit" });
        const edit = (m) => {
          const x = memberships[m.user_id];
          const current = x && x.litellm_budget_table ? x.litellm_budget_table.max_budget : null;
          const f = form([
            { name: "role", label: "Role", type: "select", options: [["user", "user"], ["admin", "admin"]], value: m.role },
            { name: "max_budget_in_team", label: "Budget in team (USD)", type: "number", value: current, placeholder: "no limit" },
          ], "Save member", async (v) => {
            const body = { team_id: teamId, role: v.role };
            if (m.user_id) body.user_id = m.user_id; else body.user_email = m.user_email;
            if (v.max_budget_in_team !== undefined) body.max_budget_in_team = v.max_budget_in_team;
            try { await api("/team/member_update", { body }); }
            catch (e) {
              if (unavailable(e)) throw new Error("Changing a member needs /team/member_update, which this gateway does not serve (it answered " + e.status + ").");
              throw e;
            }
            await showTeam(teamId);
          }, "update-member", { keep: true, buttons: [el("button", { type: "button", class: "secondary", onclick: () => editing.replaceChildren() }, "Cancel")] });
          editing.replaceChildren(section(`Change ${m.user_email || m.user_id}`, f));
        };
        const members = table([
          { title: "Member", value: (m) => named(m.user_email || (dir.userById[m.user_id] && dir.userById[m.user_id].user_email), m.user_id) },
          { title: "Role", value: (m) => badge(m.role, m.role === "admin" ? "warn" : "") },
          { title: "Spend / budget in team", value: memberBudget },
          { title: "", cls: "actions", value: (m) => [
            el("button", { type: "button", class: "small", onclick: () => edit(m) }, "Edit"),
            confirmButton("Remove", async () => {
              const body = { team_id: teamId };
              if (m.user_id) body.user_id = m.user_id; else body.user_email = m.user_email;
              await api("/team/member_delete", { body });
              await showTeam(teamId);
            }),
          ] },
        ], team.members_with_roles || [], "No members yet.", { id: "members-table", rowAttrs: (m) => ({ "data-member": m.user_id || m.user_email }) });
        const add = form([
          { name: "user", label: "User id or email", required: true, suggest: dir.userChoices },
          { name: "role", label: "Role", type: "select", options: [["user", "user"], ["admin", "admin"]] },
          { name: "max_budget_in_team", label: "Budget in team (USD)", type: "number", placeholder: "no limit" },
        ], "Add member", async (v) => {
          const member = { role: v.role };
          if (v.user.includes("@") && !dir.userById[v.user]) member.user_email = v.user; else member.user_id = v.user;
          const body = { team_id: teamId, member };
          if (v.max_budget_in_team !== undefined) body.max_budget_in_team = v.max_budget_in_team;
          await api("/team/member_add", { body });
          await showTeam(teamId);
        }, "add-member");
        detail.replaceChildren(section(`Members of ${team.team_alias || team.team_id}`, members, editing, el("h3", {}, "Add a member"), add));
        await load();
        detail.scrollIntoView({ block: "nearest" });
      };

      const newTeam = form([
        { name: "team_alias", label: "Name", placeholder: "Platform" },
        { name: "team_id", label: "Team id", placeholder: "empty: generated" },
        { name: "models", label: "Models", type: "list", placeholder: "empty: all", suggest: dir.models },
        { name: "max_budget", label: "Max budget (USD)", type: "number" }, { name: "budget_duration", label: "Budget period", placeholder: "30d" },
        { name: "rpm_limit", label: "Requests / min", type: "number" }, { name: "tpm_limit", label: "Tokens / min", type: "number" },
        dir.orgs ? { name: "organization_id", label: "Organization", placeholder: "name or id", suggest: dir.orgs.map((o) => [o.organization_id, o.organization_alias || o.organization_id]),
          check: (v) => (dir.orgId(v) ? null : `Organization '${v}' does not exist: create it on the Organizations page first.`) } : null,
      ].filter(Boolean), "Create team", async (v) => {
        if (v.team_id && dir.teamById[v.team_id]) throw new Error(`Team '${v.team_id}' already exists.`);
        if (v.organization_id) v.organization_id = dir.orgId(v.organization_id);
        await api("/team/new", { body: v });
        teamState.page = 0;
        await load();
      }, "create-team");
      const newUser = form([
        { name: "user_id", label: "User id" }, { name: "user_email", label: "Email" },
        { name: "user_role", label: "Role", type: "select", options: ["internal_user", "internal_user_viewer", "proxy_admin"] },
        { name: "teams", label: "Teams", type: "list", placeholder: "names or ids", suggest: dir.teamChoices,
          check: (v) => { const missing = v.filter((t) => !dir.teamId(t)); return missing.length ? `No such team: ${missing.join(", ")}.` : null; } },
        { name: "max_budget", label: "Max budget (USD)", type: "number" },
        { name: "auto_create_key", label: "Create a key", type: "checkbox", checked: true },
      ], "Create user", async (v) => {
        if (v.teams) v.teams = v.teams.map(dir.teamId);
        const r = await api("/user/new", { body: v });
        shown.replaceChildren(r.key ? secretOnce(`Key for user ${r.user_email || r.user_id}`, r.key) : "");
        userState.page = 0;
        await load();
      }, "create-user");
      root.append(shown, el("div", { class: "two" }, section("Create a team", newTeam), section("Create a user", newUser)),
        section("Teams (newest first)", teams), detail, section("Users (newest first)", users));
      await load();
    },
  };

  // ---- Organizations ---------------------------------------------------------------------------------------
  pages.orgs = {
    title: "Organizations",
    async render(root) {
      let orgs;
      try { orgs = await api("/organization/list"); }
      catch (e) {
        if (!unavailable(e)) throw e;
        root.append(notAvailable("Organizations", "/organization/list", e));
        return;
      }
      const list = el("div"), detail = el("div", { id: "org-detail" });
      const state = { page: 0 };
      let dir = await directory();
      let open = null;
      const orgBudget = (o) => {
        const b = o.litellm_budget_table || {};
        return budgetText(o.spend, b.max_budget, b.budget_duration);
      };
      const load = async () => {
        orgs = await api("/organization/list");
        dir = await directory();
        list.replaceChildren(table([
          { title: "Organization", cls: "name", value: (o) => named(o.organization_alias, o.organization_id) },
          { title: "Models", value: (o) => fmt.items(o.models) },
          { title: "Teams", value: (o) => (o.teams || []).map((t) => t.team_alias || t.team_id).join(", ") || "–" },
          { title: "Members", cls: "num", value: (o) => fmt.int((o.members || []).length) },
          { title: "Spend / budget", cls: "nowrap", value: orgBudget },
          { title: "Created", cls: "nowrap", value: (o) => fmt.day(o.created_at) },
          { title: "", cls: "actions", value: (o) => [
            el("button", { type: "button", class: "small", onclick: () => show(o.organization_id).catch((e) => AGW.banner(e.message)) }, "Open"),
            confirmButton("Delete", async () => {
              await api("/organization/delete", { method: "DELETE", body: { organization_ids: [o.organization_id] } });
              if (open === o.organization_id) { open = null; detail.replaceChildren(); }
              await load();
            }),
          ] },
        ], newestFirst(orgs), "No organizations yet.", { id: "orgs-table", state, rowAttrs: (o) => ({ "data-org": o.organization_alias || o.organization_id, class: o.organization_id === open ? "selected" : null }) }));
      };

      const show = async (id) => {
        open = id;
        const o = await api(`/organization/info?organization_id=${encodeURIComponent(id)}`);
        const b = o.litellm_budget_table || {};
        const edit = form([
          { name: "organization_alias", label: "Name", value: o.organization_alias, required: true },
          { name: "models", label: "Models", type: "list", value: (o.models || []).join(", "), placeholder: "empty: all", suggest: dir.models },
          { name: "max_budget", label: "Max budget (USD)", type: "number", value: b.max_budget },
          { name: "budget_duration", label: "Budget period", value: b.budget_duration, placeholder: "30d" },
        ], "Save", async (v) => {
          await api("/organization/update", { method: "PATCH", body: Object.assign({ organization_id: id, models: [] }, v) });
          await show(id);
        }, "edit-org", { keep: true });
        const members = table([
          { title: "Member", value: (m) => named((m.user && m.user.user_email) || (dir.userById[m.user_id] && dir.userById[m.user_id].user_email), m.user_id) },
          { title: "Role", value: (m) => m.user_role || "–" },
          { title: "Spend / budget in organization", value: (m) => budgetText(m.spend, m.litellm_budget_table ? m.litellm_budget_table.max_budget : null) },
          { title: "Joined", cls: "nowrap", value: (m) => fmt.day(m.created_at) },
        ], o.members || [], "No members yet.", { id: "org-members-table", rowAttrs: (m) => ({ "data-member": m.user_id }) });
        const add = form([
          { name: "user", label: "User id or email", required: true, suggest: dir.userChoices },
          { name: "role", label: "Role", type: "select", options: ["internal_user", "org_admin", "internal_user_viewer"] },
          { name: "max_budget_in_organization", label: "Budget in organization (USD)", type: "number", placeholder: "no limit" },
        ], "Add member", async (v) => {
          const member = { role: v.role };
          if (v.user.includes("@") && !dir.userById[v.user]) member.user_email = v.user; else member.user_id = v.user;
          const body = { organization_id: id, member };
          if (v.max_budget_in_organization !== undefined) body.max_budget_in_organization = v.max_budget_in_organization;
          await api("/organization/member_add", { body });
          await show(id);
        }, "add-org-member");
        detail.replaceChildren(section(`Organization ${o.organization_alias || o.organization_id}`, edit,
          el("h3", {}, "Teams"), el("p", { id: "org-teams" }, (o.teams || []).map((t) => t.team_alias || t.team_id).join(", ") || "No teams: create one on the Teams page with this organization."),
          el("h3", {}, "Members"), members, el("h3", {}, "Add a member"), add));
        await load();
      };

      const create = form([
        { name: "organization_alias", label: "Name", required: true, placeholder: "Acme Research" },
        { name: "organization_id", label: "Organization id", placeholder: "empty: generated" },
        { name: "models", label: "Models", type: "list", placeholder: "empty: all", suggest: dir.models },
        { name: "max_budget", label: "Max budget (USD)", type: "number" },
        { name: "budget_duration", label: "Budget period", placeholder: "30d" },
        { name: "rpm_limit", label: "Requests / min", type: "number" },
        { name: "tpm_limit", label: "Tokens / min", type: "number" },
      ], "Create organization", async (v) => {
        if (orgs.some((o) => o.organization_alias === v.organization_alias)) throw new Error(`An organization named '${v.organization_alias}' already exists.`);
        await api("/organization/new", { body: v });
        state.page = 0;
        await load();
      }, "create-org");
      root.append(section("Create an organization", create), section("Organizations (newest first)", list), detail);
      await load();
    },
  };
})();
