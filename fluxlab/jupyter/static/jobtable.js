// fluxlab JobTable view (anywidget ES module).  The kernel filters, sorts and
// pages; this view only shows the synced page and sends the user's choices.
const FILTERS = ["all", "active", "pending", "running", "inactive", "completed",
  "failed", "canceled", "timeout"];
const COLUMNS = [["f58", "JOBID", "id"], ["name", "NAME", "name"],
  ["status", "STATUS", "status"], ["ntasks", "TASKS", null], ["nnodes", "NODES", "nnodes"],
  ["ncores", "CORES", "ncores"], ["ngpus", "GPUS", "ngpus"], ["runtime", "RUNTIME", "runtime"],
  ["rc", "RC", null], ["nodelist", "NODELIST", null]];

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

function render({ model, el }) {
  el.classList.add("fluxlab-w", "fluxlab-jobtable");
  let tab = "info";
  let nameTimer = null;
  const set = (k, v) => { model.set(k, v); model.save_changes(); };

  const title = h("span", { class: "fl-title" });
  const filter = h("select", { onchange: (e) => { set("page", 0); set("state_filter", e.target.value); } },
    ...FILTERS.map((f) => h("option", { value: f }, f)));
  const name = h("input", { placeholder: "name filter (glob)", size: "16",
    oninput: (e) => { clearTimeout(nameTimer); nameTimer = setTimeout(() => { set("page", 0); set("name_filter", e.target.value); }, 250); } });
  const chips = h("span", { class: "fl-bar" });
  const info = h("span", { class: "fl-muted" });
  const prev = h("button", { onclick: () => set("page", Math.max(0, model.get("page") - 1)) }, "‹");
  const next = h("button", { onclick: () => set("page", model.get("page") + 1) }, "›");
  const err = h("div", { class: "fl-err" });
  const table = h("table", { class: "fl-table" });
  const detail = h("div", { class: "fl-detail", style: "display:none" });
  el.append(h("div", { class: "fl-bar" }, title, filter, name, prev, info, next), chips, err, table, detail);

  function header() {
    const sort = model.get("sort_by"), desc = model.get("sort_desc");
    return h("tr", {}, ...COLUMNS.map(([key, label, skey]) => h("th", {
      title: skey ? "sort by " + label.toLowerCase() : "",
      onclick: () => { if (!skey) return; if (sort === skey) set("sort_desc", !desc); else { set("sort_by", skey); set("sort_desc", true); } },
    }, label + (skey && sort === skey ? (desc ? " ▾" : " ▴") : ""))));
  }

  function drawRows() {
    const sel = model.get("selected");
    table.replaceChildren(header(), ...model.get("rows").map((r) => {
      const tr = h("tr", { class: "fl-row" + (r.id === sel ? " fl-sel" : ""), "data-id": String(r.id),
        onclick: () => set("selected", r.id === sel ? 0 : r.id) });
      for (const [key] of COLUMNS) {
        if (key === "status") tr.append(h("td", { title: r.note || r.state },
          h("span", { class: "fl-badge", style: "background:" + r.color }, r.status)));
        else tr.append(h("td", { title: String(r[key] ?? "") }, String(r[key] ?? "")));
      }
      return tr;
    }));
  }

  function drawBar() {
    title.textContent = model.get("title");
    filter.value = model.get("state_filter");
    if (document.activeElement !== name) name.value = model.get("name_filter");
    const page = model.get("page"), size = model.get("page_size"), matched = model.get("matched");
    const first = matched ? page * size + 1 : 0, last = Math.min(matched, (page + 1) * size);
    info.textContent = `${first}-${last} of ${matched} (${model.get("total")} jobs)`;
    prev.disabled = page <= 0; next.disabled = last >= matched;
    const colors = model.get("colors");
    chips.replaceChildren(...Object.entries(model.get("counts")).map(([s, n]) => h("span", {
      class: "fl-chip", style: "background:" + (colors[s] || "#777"), title: "show " + s.toLowerCase(),
      onclick: () => { const f = s.toLowerCase(); set("page", 0); set("state_filter", FILTERS.includes(f) || ["depend", "priority", "sched", "run", "cleanup", "new"].includes(f) ? f : "all"); },
    }, `${s} ${n}`)));
    err.textContent = model.get("error");
  }

  function drawDetail() {
    const d = model.get("detail");
    if (!model.get("selected") || !d || !d.f58) { detail.style.display = "none"; return; }
    detail.style.display = "";
    const tabs = h("span", { class: "fl-tabs" }, ...["info", "eventlog", "output", "R"].map((t) =>
      h("button", { class: t === tab ? "fl-on" : "", onclick: () => { tab = t; drawDetail(); } }, t)));
    const cancel = h("button", { title: "cancel this job", onclick: () => model.send({ action: "cancel", id: model.get("selected") }) }, "Cancel job");
    cancel.disabled = !d.active;
    let body;
    if (tab === "info") body = h("table", { class: "fl-table" }, ...(d.info || []).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, String(v)))));
    else if (tab === "eventlog") body = h("table", { class: "fl-table" }, ...(d.eventlog || []).map(([t, n, c]) => h("tr", {}, h("td", { class: "fl-muted" }, t), h("td", {}, n), h("td", { title: c }, c))));
    else if (tab === "output") body = h("pre", { class: "fl-pre" }, d.output || "(no output)");
    else body = h("pre", { class: "fl-pre" }, d.R || "(no resources allocated)");
    detail.replaceChildren(h("div", { class: "fl-bar" }, h("b", {}, "job " + d.f58), tabs, cancel,
      h("span", { class: "fl-muted" }, d.loading ? "loading…" : ""), h("span", { class: "fl-err" }, d.error || "")), body);
  }

  drawBar(); drawRows(); drawDetail();
  model.on("change:rows", drawRows);
  model.on("change:selected", () => { drawRows(); drawDetail(); });
  for (const k of ["counts", "matched", "total", "page", "error", "state_filter", "name_filter", "title"])
    model.on("change:" + k, drawBar);
  model.on("change:sort_by", drawRows);
  model.on("change:sort_desc", drawRows);
  model.on("change:detail", drawDetail);
}

export default { render };
