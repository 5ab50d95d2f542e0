// The HTML report's behaviour: filters on the matrix, and the detail view of a case,
// built from the report JSON in the page (never from the network). Text from the
// report is only ever set as text, never parsed as HTML.
"use strict";
(function () {
  const report = JSON.parse(document.getElementById("tlsdiff-report").textContent);
  const paths = JSON.parse(document.getElementById("tlsdiff-paths").textContent);
  const results = new Map(report.results.map((r) => [r.case, r]));
  const releases = report.releases.filter((r) => r.available).map((r) => r.name);
  const rows = Array.from(document.querySelectorAll("#matrix tbody tr"));
  const detail = document.getElementById("detail");
  const MARK = { pass: "", fail: "!", error: "E", unsupported: "-", xfail: "x" };

  // el("td", {class: "x", title: "y"}, child, "text", ...): text children become text nodes.
  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined) continue;
      node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return node;
  }

  // ---------------------------------------------------------------- header height, for the panes

  function fitHeader() {
    const h = document.getElementById("top").getBoundingClientRect().height;
    document.documentElement.style.setProperty("--header-h", h + "px");
  }
  new ResizeObserver(fitHeader).observe(document.getElementById("top"));
  fitHeader();

  // ---------------------------------------------------------------- filters

  const q = document.getElementById("q");
  function checked(name) {
    return new Set(Array.from(document.querySelectorAll(`input[name="${name}"]:checked`), (i) => i.value));
  }
  function applyFilters() {
    const text = q.value.trim().toLowerCase();
    const areas = checked("area"), tags = checked("tag"), verdicts = checked("verdict");
    let shown = 0;
    for (const tr of rows) {
      const d = tr.dataset;
      const ok = (!text || d.case.toLowerCase().includes(text)) &&
        (areas.size === 0 || areas.has(d.area)) &&
        (tags.size === 0 || d.tags.split(" ").some((t) => tags.has(t))) &&
        verdicts.has(d.verdict);
      tr.hidden = !ok;
      if (ok) shown++;
    }
    document.getElementById("shown").textContent = `${shown} of ${rows.length} cases shown`;
  }
  document.getElementById("filters").addEventListener("input", applyFilters);
  applyFilters();

  // ---------------------------------------------------------------- values

  function text(v) {
    if (v === null || v === undefined) return "—";
    return typeof v === "string" ? v : JSON.stringify(v);
  }
  function same(values) {
    const first = JSON.stringify(values[0]);
    return values.every((v) => JSON.stringify(v) === first);
  }
  function runSpan(key, run) {
    if (!run) return el("span", { class: "run v-none", title: `${key}: not run` }, ".");
    const letter = run.verdict === "unsupported" ? "-" : run.class + (run.verdict in MARK ? MARK[run.verdict] : "?");
    return el("span", { class: `run v-${run.verdict} c-${run.class}`, title: `${key}: ${run.verdict}` }, letter);
  }
  function alertList(list) {
    if (!list || list.length === 0) return el("span", { class: "none" }, "none");
    return el("ol", { class: "msgs" }, list.map((a) =>
      el("li", {}, `${a.level} ${a.name}`, el("small", {}, `${a.bytes}${a.encrypted ? ", encrypted" : ""}`))));
  }
  // A handshake message: its type, then what the transcript recorded about it.
  function messages(list) {
    if (!list || list.length === 0) return el("span", { class: "none" }, "none");
    return el("ol", { class: "msgs" }, list.map((m) => {
      const rest = Object.keys(m).filter((k) => k !== "type").sort()
        .map((k) => `${k}: ${Array.isArray(m[k]) ? "[" + m[k].map(text).join(", ") + "]" : text(m[k])}`).join("; ");
      return el("li", {}, m.type, rest ? el("small", {}, rest) : null);
    }));
  }
  // A difference's value as `run --diff` prints it (JSON, or "(absent)"); a list of
  // handshake messages is shown as messages.
  function shown(value) {
    let v;
    try { v = JSON.parse(value); } catch (e) { return value; }
    if (Array.isArray(v) && v.length && v.every((m) => m && typeof m === "object" && "type" in m)) return messages(v);
    return value;
  }
  function plain(v) {
    if (Array.isArray(v)) return v.length ? el("ol", { class: "msgs" }, v.map((x) => el("li", {}, text(x)))) :
      el("span", { class: "none" }, "none");
    return text(v);
  }

  // ---------------------------------------------------------------- the detail view

  // What one connection side shows, row by row; `get` picks it from the side's observation.
  const ASPECTS = [
    ["error", (s) => s.error, plain],
    ["io_error", (s) => s.io_error, plain],
    ["ech retry configs", (s) => s.ech_retry_configs, plain],
    ["alerts sent", (s) => s.alerts && s.alerts.sent, alertList],
    ["alerts received", (s) => s.alerts && s.alerts.received, alertList],
    ["cache", (s) => s.cache, plain],
    ["hrr", (s) => s.hrr, plain],
    ["tickets", (s) => s.tickets, plain],
    ["received", (s) => s.received, plain],
    ["transcript sent", (s) => s.transcript && s.transcript.sent, messages],
    ["transcript received", (s) => s.transcript && s.transcript.received, messages],
  ];

  // Optional hook: a capture file named in the report (`capture` on a step, a path
  // relative to the report) becomes a link; reports without one show nothing.
  function captureLinks(step) {
    const names = [].concat((step && step.capture) || []);
    return names.map((p) => el("a", { class: "capture", href: p, download: "" }, p.split("/").pop()));
  }

  function section(title, ...body) {
    return [el("h3", {}, title), ...body];
  }
  function tableWrap(table) {
    return el("div", { class: "table-wrap" }, table);
  }

  function info(r) {
    // A cross case has a run per pair of releases: its grid shows which; here, how many.
    const members = (c) => r.pairing === "cross" ? `${r.classes[c].length} runs` : r.classes[c].join(", ");
    const classes = Object.keys(r.classes).sort().map((c) =>
      el("span", {}, el("span", { class: `run c-${c}` }, c), " ", members(c), "  "));
    return el("dl", {},
      el("dt", {}, "description"), el("dd", {}, r.description),
      el("dt", {}, "source"), el("dd", {}, r.source || "—"),
      el("dt", {}, "file"), el("dd", { class: "mono" }, r.file),
      el("dt", {}, "tags"), el("dd", {}, r.tags.join(", ") || "—"),
      el("dt", {}, "pairing"), el("dd", {}, r.pairing),
      el("dt", {}, "classes"), el("dd", {}, classes));
  }

  function failures(r, keys) {
    const bad = keys.filter((k) => r.runs[k] && r.runs[k].failures.length);
    if (bad.length === 0) return [el("p", { class: "ok" }, "Every expectation held on every release.")];
    return bad.map((k) => el("div", {}, el("b", {}, k), " ", runSpan(k, r.runs[k]),
      el("ul", { class: "failures" }, r.runs[k].failures.map((f) => el("li", {}, f)))));
  }

  // The cross grid: rows release a, columns release b.
  function grid(r) {
    const head = el("thead", {}, el("tr", {}, el("th", {}, "a \\ b"), releases.map((b) => el("th", {}, b))));
    const body = el("tbody", {}, releases.map((a) => {
      const cells = releases.map((b) => el("td", {}, runSpan(`${a}>${b}`, r.runs[`${a}>${b}`])));
      return el("tr", {}, el("th", {}, a), cells);
    }));
    return tableWrap(el("table", { class: "grid" }, head, body));
  }

  // Each exact path that differs, side by side across the shown runs (or value by value).
  function differences(r, keys) {
    const all = paths[r.case] || [];
    if (all.length === 0) return [el("p", { class: "ok" }, "The releases agree on every field.")];
    const table = (list) => tableWrap(el("table", { class: "diffs" },
      el("thead", {}, el("tr", {}, el("th", {}, "step · side · path"), keys.map((k) => el("th", {}, k)))),
      el("tbody", {}, list.map((d) => {
        const at = {}, group = {};
        d.values.forEach((v, i) => v.releases.forEach((k) => { at[k] = v.value; group[k] = i; }));
        // Cells with the same value share a colour: the split between releases shows at a glance.
        return el("tr", { class: "differs", "data-field": d.field },
          el("th", {}, `step ${d.step} ${d.side} `, el("code", {}, d.path)),
          keys.map((k) => el("td", { class: k in at ? `val g-${group[k] % 6}` : "val" }, k in at ? shown(at[k]) : "")));
      }))));
    const kinds = [["outcome", "Outcomes"], ["transcript", "Transcript"], ["partial", "Fields only some releases have"]];
    const out = [];
    for (const [kind, title] of kinds) {
      const list = all.filter((d) => d.kind === kind);
      if (list.length === 0) continue;
      if (kind === "outcome") out.push(table(list));
      else out.push(el("details", {}, el("summary", {}, `${title}: ${list.length} paths`), table(list)));
    }
    if (!all.some((d) => d.kind === "outcome")) {
      out.unshift(el("p", { class: "ok" }, "The releases agree on every outcome; only the fields below differ."));
    }
    return out;
  }

  // Per step, each side's observation side by side across the shown runs.
  function observations(r, keys) {
    const out = [];
    const obs = keys.map((k) => (r.runs[k] ? r.runs[k].observations : {}));
    const notes = keys.filter((k, i) => obs[i].unsupported || obs[i].failure);
    for (const k of notes) {
      const o = r.runs[k].observations;
      out.push(el("p", {}, el("b", {}, k), ": ", o.unsupported ? `unsupported: ${o.unsupported}` : `failure: ${o.failure}`),
        o.stderr ? el("pre", {}, o.stderr) : null);
    }
    // Who ran each endpoint: the release of the run, a pinned release, tlspeer; and its GODEBUG.
    const names = Array.from(new Set(obs.flatMap((o) => Object.keys(o.endpoints || {})))).sort();
    if (names.length) {
      const who = (p) => (p ? p.peer + (p.godebug ? ` GODEBUG=${p.godebug}` : "") : "");
      const rows = names.map((n) => {
        const values = obs.map((o) => who((o.endpoints || {})[n]));
        return el("tr", {}, el("th", {}, n), values.map((v) => el("td", { class: "val" }, text(v))));
      });
      const head = el("thead", {}, el("tr", {}, el("th", {}, "endpoint"), keys.map((k) => el("th", {}, k))));
      out.push(el("h4", {}, "peers"), tableWrap(el("table", { class: "peers" }, head, el("tbody", {}, rows))));
    }
    const count = Math.max(0, ...obs.map((o) => (o.steps || []).length));
    for (let i = 0; i < count; i++) {
      const steps = obs.map((o) => (o.steps || [])[i]);
      const number = (steps.find((s) => s) || {}).step;
      const body = [];
      const line = (label, values, show) => {
        body.push(el("tr", { class: same(values) ? null : "differs" }, el("th", {}, label),
          values.map((v) => el("td", { class: "val" }, show(v)))));
      };
      if (steps.some((s) => s && (s.failure || s.stderr))) {
        line("step failure", steps.map((s) => s && s.failure), plain);
        line("stderr", steps.map((s) => s && s.stderr), plain);
      }
      if (steps.some((s) => s && s.capture)) {
        body.push(el("tr", {}, el("th", {}, "capture"), steps.map((s) => el("td", {}, captureLinks(s)))));
      }
      for (const side of ["client", "server"]) {
        const sides = steps.map((s) => s && s[side]);
        if (!sides.some((s) => s)) continue;
        body.push(el("tr", {}, el("th", { colspan: keys.length + 1, class: "side" }, side)));
        for (const [label, get, show] of ASPECTS) {
          line(label, sides.map((s) => (s ? get(s) : undefined)), show);
        }
      }
      const state = ["client", "server"].flatMap((side) => {
        const states = steps.map((s) => s && s[side] && s[side].state);
        if (!states.some((s) => s)) return [];
        const fields = Array.from(new Set(states.flatMap((s) => Object.keys(s || {})))).sort();
        return fields.map((f) => el("tr", { class: same(states.map((s) => s && s[f])) ? null : "differs" },
          el("th", {}, `${side} ${f}`), states.map((s) => el("td", { class: "val" }, plain(s ? s[f] : undefined)))));
      });
      const head = el("thead", {}, el("tr", {}, el("th", {}, ""), keys.map((k) => el("th", {}, k, " ", runSpan(k, r.runs[k])))));
      out.push(el("h4", {}, `step ${number}`),
        tableWrap(el("table", { class: "obs" }, head, el("tbody", {}, body))),
        el("details", {}, el("summary", {}, `ConnectionState, step ${number}`),
          tableWrap(el("table", { class: "obs" }, head.cloneNode(true), el("tbody", {}, state)))));
    }
    return out;
  }

  // Which runs a detail shows side by side: every release, or for a cross case one row of its grid.
  function shownKeys(r, key) {
    if (r.pairing !== "cross") return releases.filter((k) => k in r.runs);
    const a = releases.includes(key) ? key : releases[0];
    return releases.map((b) => `${a}>${b}`).filter((k) => k in r.runs);
  }

  function openCase(id, key) {
    const r = results.get(id);
    if (!r) return;
    const keys = shownKeys(r, key);
    const head = el("div", {},
      el("button", { class: "close", type: "button", title: "close (Esc)" }, "close"),
      el("h2", {}, r.case, " ", el("span", { class: `badge v-${r.verdict}` }, r.verdict)));
    const parts = [head, info(r)];
    if (r.pairing === "cross") {
      const a = keys.length ? keys[0].split(">")[0] : "";
      const pick = el("select", { "aria-label": "release a" }, releases.map((x) =>
        el("option", { value: x, selected: x === a }, x)));
      pick.addEventListener("change", () => openCase(id, pick.value));
      parts.push(...section("Grid (rows: release a, columns: release b)", grid(r)),
        el("p", {}, "Runs shown below: release a = ", pick, " against each release b."));
    }
    parts.push(...section("Expectation failures", ...failures(r, Object.keys(r.runs))));
    parts.push(...section("Differences", ...differences(r, keys)));
    parts.push(...section("Observations", ...observations(r, keys)));
    detail.replaceChildren(...parts);
    detail.hidden = false;
    detail.scrollTop = 0;
    document.body.classList.add("detail-open");
    for (const tr of rows) tr.classList.toggle("selected", tr.dataset.case === id);
    history.replaceState(null, "", "#case=" + encodeURIComponent(id));
  }

  function closeCase() {
    detail.hidden = true;
    document.body.classList.remove("detail-open");
    for (const tr of rows) tr.classList.remove("selected");
    history.replaceState(null, "", location.pathname + location.search);
  }

  document.querySelector("#matrix tbody").addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    if (!tr) return;
    e.preventDefault();
    const td = e.target.closest("td.cell");
    openCase(tr.dataset.case, td ? td.dataset.key : undefined);
  });
  detail.addEventListener("click", (e) => {
    if (e.target.closest("button.close")) closeCase();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !detail.hidden) closeCase();
  });
  const hash = decodeURIComponent(location.hash.replace(/^#case=/, ""));
  if (location.hash.startsWith("#case=") && results.has(hash)) {
    openCase(hash);
    rows.find((tr) => tr.dataset.case === hash).scrollIntoView({ block: "center" });
  }
})();
