// fluxlab ResourceGraph explorer (anywidget ES module): a grid of cells for the
// current level (click to drill down), a breadcrumb, and a node-link view of the
// subtree laid out by the kernel (networkx).
const SVGNS = "http://www.w3.org/2000/svg";

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "style") e.style.cssText = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined)
    e.append(typeof k === "string" || typeof k === "number" ? String(k) : k);
  return e;
}

function s(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function segBar(segs) {
  return h("div", { class: "fl-seg" }, ...(segs || []).map(([c, f, l]) =>
    h("div", { title: `${l}: ${(100 * f).toFixed(0)}%`, style: `background:${c};width:${(100 * f).toFixed(2)}%` })));
}

function render({ model, el }) {
  el.classList.add("fluxlab-w", "fluxlab-rgraph");
  const set = (k, v) => { model.set(k, v); model.save_changes(); };
  const title = h("span", { class: "fl-title" }, "Resources");
  const crumbs = h("span", {});
  const summary = h("span", { class: "fl-muted" });
  const legend = h("span", { class: "fl-legend fl-muted" });
  const err = h("div", { class: "fl-err" });
  const grid = h("div", { class: "fl-grid" });
  const hover = h("div", { class: "fl-hover fl-muted" });
  const svg = s("svg", { class: "fl-svg", viewBox: "0 0 1000 260", preserveAspectRatio: "xMidYMid meet" });
  svg.classList.add("fl-svg");
  el.append(h("div", { class: "fl-bar" }, title, crumbs, summary), legend, err, grid, hover, svg);

  function drawCrumbs() {
    const path = model.get("path");
    const items = [];
    model.get("crumbs").forEach((c, i) => {
      if (i) items.push(" › ");
      items.push(h("span", { class: "fl-crumb", onclick: () => set("path", path.slice(0, i)) }, c.label));
    });
    crumbs.replaceChildren(...items);
    const sm = model.get("summary");
    summary.textContent = sm.nnodes === undefined ? "" :
      `${sm.nnodes} nodes, ${sm.cores} cores, ${sm.gpus} GPUs — free ${sm.free}, allocated ${sm.allocated}, down ${sm.down}, drained ${sm.drained}; ${sm.jobs} running job(s)`;
    legend.replaceChildren(...model.get("legend").flatMap(([c, l]) => [h("span", { style: "background:" + c }), l]));
    err.textContent = model.get("error");
  }

  function drawCells() {
    const path = model.get("path");
    grid.replaceChildren(...model.get("cells").map((c) => {
      const kids = [h("div", { class: "fl-lab", title: c.tip }, c.label)];
      if (c.children) kids.push(h("div", { class: "fl-leaves" }, ...c.children.map((l) =>
        h("div", { class: "fl-leaf", title: l.tip, style: "background:" + l.color,
          onmouseenter: () => { hover.textContent = l.tip; } }))));
      else if (c.segments && c.segments.length) kids.push(segBar(c.segments));
      const leaf = !c.drill && !c.children;
      return h("div", {
        class: "fl-cell" + (c.drill ? " fl-drill" : ""), "data-key": c.key, "data-state": c.state, title: c.tip,
        style: leaf ? `background:${c.color};min-height:22px` : `border-left:4px solid ${c.color}`,
        onmouseenter: () => { hover.textContent = c.tip; },
        onclick: () => { if (c.drill) set("path", [...path, c.key]); },
      }, ...kids);
    }));
  }

  function drawGraph() {
    const g = model.get("graph");
    const W = 1000, H = 260, pad = 18;
    svg.replaceChildren();
    if (!g || !g.nodes || !g.nodes.length) return;
    const xy = (n) => [pad + n.x * (W - 2 * pad), pad + n.y * (H - 2 * pad)];
    for (const [a, b] of g.edges) {
      const [x1, y1] = xy(g.nodes[a]), [x2, y2] = xy(g.nodes[b]);
      svg.append(s("line", { x1, y1, x2, y2, stroke: "#bbb", "stroke-width": 1 }));
    }
    const small = g.nodes.length > 80;
    for (const n of g.nodes) {
      const [x, y] = xy(n);
      const c = s("circle", { cx: x, cy: y, r: small ? 4 : 7, fill: n.color, stroke: "#444", "stroke-width": 0.5 });
      const t = s("title", {}); t.textContent = n.tip || n.label; c.append(t);
      c.addEventListener("mouseenter", () => { hover.textContent = n.tip || n.label; });
      svg.append(c);
      if (!small || n.kind === "node" || n.kind === "group" || n.kind === "cluster") {
        const lab = s("text", { x: x + 8, y: y + 3, "font-size": 10, fill: "currentColor" });
        lab.textContent = n.label; svg.append(lab);
      }
    }
  }

  drawCrumbs(); drawCells(); drawGraph();
  for (const k of ["crumbs", "summary", "legend", "error", "path"]) model.on("change:" + k, drawCrumbs);
  model.on("change:cells", drawCells);
  model.on("change:graph", drawGraph);
}

export default { render };
