// The admin UI's edge page: what the Traefik-compatible edge runs, read from Traefik's API (/api/overview,
// /api/http/routers, /services, /middlewares) with the master key: each router, service and middleware with its
// status and errors, and each server's health. Names, rules and errors come from configuration files: they are only
// ever written with textContent (AGW.el).
"use strict";

(() => {
  const { pages, api, unavailable, el, every, table, badge, section, fmt } = AGW;
  const statusBadge = (s) => badge(s || "unknown", s === "enabled" ? "ok" : s === "warning" ? "warn" : "bad");
  const errors = (item) => (item.error && item.error.length
    ? el("ul", { class: "edge-errors" }, item.error.map((e) => el("li", { class: "error small" }, e)))
    : null);
  const list = (values) => (values && values.length ? values.join(", ") : "–");
  const count = (s) => `${fmt.int(s.total)} total, ${fmt.int(s.warnings)} warnings, ${fmt.int(s.errors)} errors`;

  function servers(service) {
    const status = service.serverStatus || {};
    const urls = Object.keys(status);
    if (!urls.length) return "–";
    return el("ul", { class: "edge-servers" }, urls.map((url) =>
      el("li", { "data-url": url }, el("code", {}, url), " ", badge(status[url], status[url] === "UP" ? "ok" : "bad"))));
  }

  pages.edge = {
    title: "Edge",
    async render(root) {
      const summary = el("div"), routers = el("div"), services = el("div"), middlewares = el("div");
      root.append(summary, routers, services, middlewares);
      const state = { routers: { page: 0 }, services: { page: 0 }, middlewares: { page: 0 } };

      const load = async () => {
        let overview, r, s, m;
        try {
          [overview, r, s, m] = await Promise.all([api("/api/overview"), api("/api/http/routers"), api("/api/http/services"), api("/api/http/middlewares")]);
        } catch (e) {
          if (!unavailable(e)) throw e;
          summary.replaceChildren(el("div", { class: "unavailable", role: "status" },
            el("strong", {}, "The edge is not configured on this gateway."),
            " Add entryPoints, providers.file or http routers to the config file to route traffic with Traefik's configuration."));
          routers.replaceChildren(); services.replaceChildren(); middlewares.replaceChildren();
          return;
        }
        const http = overview.http;
        summary.replaceChildren(section("Overview", el("dl", { class: "kv", id: "edge-overview" },
          el("dt", {}, "Routers"), el("dd", { "data-kind": "routers" }, count(http.routers)),
          el("dt", {}, "Services"), el("dd", { "data-kind": "services" }, count(http.services)),
          el("dt", {}, "Middlewares"), el("dd", { "data-kind": "middlewares" }, count(http.middlewares)),
          el("dt", {}, "Providers"), el("dd", {}, list(overview.providers)),
          el("dt", {}, "Access log"), el("dd", {}, overview.features && overview.features.accessLog ? "on" : "off"))));

        routers.replaceChildren(section("Routers", table([
          { title: "Router", cls: "name", value: (x) => el("span", { class: "item" }, x.name) },
          { title: "Rule", value: (x) => el("code", {}, x.rule || "–") },
          { title: "Entry points", value: (x) => list(x.using || x.entryPoints) },
          { title: "Middlewares", value: (x) => list(x.middlewares) },
          { title: "Service", value: (x) => x.service || "–" },
          { title: "Priority", cls: "num", value: (x) => x.priorityStr || String(x.priority || 0) },
          { title: "Status", value: (x) => [statusBadge(x.status), errors(x)] },
        ], r, "No routers.", { id: "edge-routers", state: state.routers, rowAttrs: (x) => ({ "data-name": x.name, "data-status": x.status }) })));

        services.replaceChildren(section("Services", table([
          { title: "Service", cls: "name", value: (x) => el("span", { class: "item" }, x.name) },
          { title: "Type", value: (x) => x.type || "–" },
          { title: "Servers", value: servers },
          { title: "Used by", value: (x) => list(x.usedBy) },
          { title: "Status", value: (x) => [statusBadge(x.status), errors(x)] },
        ], s, "No services.", { id: "edge-services", state: state.services, rowAttrs: (x) => ({ "data-name": x.name, "data-status": x.status }) })));

        middlewares.replaceChildren(section("Middlewares", table([
          { title: "Middleware", cls: "name", value: (x) => el("span", { class: "item" }, x.name) },
          { title: "Type", value: (x) => x.type || "–" },
          { title: "Used by", value: (x) => list(x.usedBy) },
          { title: "Status", value: (x) => [statusBadge(x.status), errors(x)] },
        ], m, "No middlewares.", { id: "edge-middlewares", state: state.middlewares, rowAttrs: (x) => ({ "data-name": x.name, "data-status": x.status }) })));
      };
      await load();
      // Health checks move servers in and out of rotation: follow them.
      every(5000, () => load().catch(() => {}));
    },
  };
})();
