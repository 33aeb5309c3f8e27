// Inline SVG charts for the admin UI: bars (grouped or stacked) and lines over time buckets. No library.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  // L leaves room for the widest axis label, a cost such as $0.0000005 (costs are never written as 1e-7).
  const W = 560, H = 190, L = 76, R = 10, T = 12, B = 24;

  function s(tag, attrs, ...children) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  /** Counts: whole numbers as they are, a half-way tick with one decimal. */
  const count = (v) => (Number.isInteger(v) ? AGW.fmt.int(v) : v.toFixed(1));

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function frame(labels, max, format) {
    const g = s("g", { class: "axes" });
    for (const f of [0, 0.5, 1]) {
      const y = T + (H - T - B) * (1 - f);
      g.append(s("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }));
      g.append(s("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, format(max * f)));
    }
    const n = labels.length;
    for (const i of n > 2 ? [0, Math.floor(n / 2), n - 1] : [...labels.keys()]) {
      g.append(s("text", { x: L + (W - L - R) * (i + 0.5) / n, y: H - 6, "text-anchor": "middle" }, labels[i]));
    }
    return g;
  }

  function legend(series) {
    return AGW.el("div", { class: "legend" }, series.map((x) => AGW.el("span", { class: "key " + x.cls }, x.name)));
  }

  /**
   * Bars per bucket. series: [{name, cls, values}]; stacked puts them on top of each other, else the first is drawn
   * and later ones overlay it (e.g. errors within requests).
   */
  function bars(title, labels, series, options = {}) {
    const format = options.format || count;
    const totals = labels.map((_, i) => options.stacked ? series.reduce((a, x) => a + (x.values[i] || 0), 0) : Math.max(...series.map((x) => x.values[i] || 0)));
    const max = niceMax(Math.max(0, ...totals));
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title });
    svg.append(frame(labels, max, format));
    const slot = (W - L - R) / labels.length;
    const width = Math.max(1, slot * 0.7);
    labels.forEach((label, i) => {
      let base = 0;
      for (const x of series) {
        const v = x.values[i] || 0;
        const h = (H - T - B) * v / max;
        const y0 = options.stacked ? base : 0;
        const y = T + (H - T - B) - (H - T - B) * y0 / max - h;
        svg.append(s("rect", { x: L + slot * i + (slot - width) / 2, y, width, height: Math.max(0, h), class: "bar " + x.cls, "data-value": v },
          s("title", {}, `${label} ${x.name}: ${format(v)}`)));
        if (options.stacked) base += v;
      }
    });
    return card(title, svg, series, options.id);
  }

  /** Lines per series; null values leave gaps. */
  function lines(title, labels, series, options = {}) {
    const format = options.format || count;
    const max = niceMax(Math.max(0, ...series.flatMap((x) => x.values.filter((v) => v !== null))));
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title });
    svg.append(frame(labels, max, format));
    const slot = (W - L - R) / labels.length;
    for (const x of series) {
      let d = "";
      let pen = false;
      x.values.forEach((v, i) => {
        if (v === null || v === undefined) { pen = false; return; }
        const px = L + slot * (i + 0.5), py = T + (H - T - B) * (1 - v / max);
        d += (pen ? "L" : "M") + px.toFixed(1) + " " + py.toFixed(1);
        pen = true;
        svg.append(s("circle", { cx: px, cy: py, r: 2.5, class: "dot " + x.cls, "data-value": v }, s("title", {}, `${labels[i]} ${x.name}: ${format(v)}`)));
      });
      if (d) svg.insertBefore(s("path", { d, class: "line " + x.cls }), svg.querySelector("circle"));
    }
    return card(title, svg, series, options.id);
  }

  function card(title, svg, series, id) {
    return AGW.el("figure", { class: "chart-card", id }, AGW.el("figcaption", {}, title), svg, legend(series));
  }

  return { bars, lines };
})();
