// flowc dashboard: live regions by server-sent events, actions by fetch, charts as inline SVG.
// No framework; the one third-party file is dagre (static/vendor/, MIT), which lays out a
// workflow's DAG. Every string from the server is inserted as text, except page fragments,
// which the server rendered with autoescaping.
"use strict";

(function () {
  const SVGNS = "http://www.w3.org/2000/svg";

  function cookie(name) {
    const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function toast(text, bad) {
    const box = document.getElementById("toast");
    if (!box) return;
    const item = document.createElement("div");
    item.textContent = text;
    if (bad) item.className = "bad";
    box.appendChild(item);
    setTimeout(() => item.remove(), bad ? 7000 : 3500);
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Flowc-CSRF": cookie("flowc_csrf") },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { error: response.statusText }; }
    if (!response.ok) {
      const err = new Error(data.error || response.statusText);
      err.status = response.status;
      throw err;
    }
    return data;
  }

  function actionError(err) {
    if (err.status === 401) {
      toast("Refused: log in first (" + err.message + ")", true);
    } else {
      toast("Refused: " + err.message, true);
    }
  }

  // --- action buttons (event delegation: fragments are replaced live) -------------------------
  document.addEventListener("click", async (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (!button) return;
    ev.preventDefault();
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    let body = {};
    try { body = button.dataset.body ? JSON.parse(button.dataset.body) : {}; } catch (e) { body = {}; }
    button.disabled = true;
    try {
      const data = await post(button.dataset.action, body);
      toast(describe(data), refusedByAll(data));
      const row = button.closest("tr[data-entry]");
      if (row) row.remove();
      if (button.hasAttribute("data-reload")) reloadSoon();
    } catch (err) {
      actionError(err);
    } finally {
      button.disabled = false;
    }
  });

  // forms that send a control command with their fields (the worker page)
  document.addEventListener("submit", async (ev) => {
    const form = ev.target.closest("form[data-control]");
    if (!form) return;
    ev.preventDefault();
    let body = {};
    try { body = JSON.parse(form.dataset.body || "{}"); } catch (e) { body = {}; }
    new FormData(form).forEach((v, k) => { body[k] = v === "" ? null : v; });
    try {
      const data = await post(form.dataset.control, body);
      toast(describe(data), refusedByAll(data));
      if (!refusedByAll(data)) reloadSoon();
    } catch (err) {
      actionError(err);
    }
  });

  function refusedByAll(data) {
    return Boolean(data.replies && data.replies.length && data.replies.every((r) => r.error));
  }

  function reloadSoon() {
    // long enough to read the reply; the reloaded page asks the workers again
    setTimeout(() => window.location.reload(), 1200);
  }

  function describe(data) {
    if (data.replies) {
      if (!data.replies.length) return "no worker replied";
      return data.replies.map((r) => r.worker + ": " + (r.error ? "error " + r.error : JSON.stringify(r.ok))).join("; ");
    }
    if (data.requeued) return "requeued " + data.requeued;
    if (data.deleted) return "deleted " + data.deleted;
    if (data.revoked) return "revoked " + data.revoked;
    if (data.resumed) return "resumed " + data.resumed;
    return JSON.stringify(data);
  }

  // --- live stream --------------------------------------------------------------------------
  function liveUrl() {
    const page = document.body.dataset.page;
    const params = new URLSearchParams();
    const region = document.getElementById("live");
    const log = document.getElementById("log");
    if (region && region.dataset.live) {
      params.set("page", region.dataset.live);
      new URLSearchParams(region.dataset.params || "").forEach((v, k) => params.set(k, v));
    } else if (page === "workflows") {
      params.set("page", "workflow");
    } else if (log) {
      params.set("page", log.dataset.liveLog);
    } else {
      return null;
    }
    const head = document.getElementById("wf-head");
    if (head) { params.set("page", "workflow"); params.set("workflow", head.dataset.workflow); }
    if (log && log.dataset.liveLog === "task") params.set("task", log.dataset.id);
    if (log && log.dataset.liveLog === "submit" && log.dataset.filter) {
      params.set(log.dataset.filterKind, log.dataset.filter);
    }
    return "/api/live?" + params.toString();
  }

  let source = null;
  function connect() {
    if (source) source.close();
    const url = liveUrl();
    if (!url) return;
    source = new EventSource(url);
    source.addEventListener("fragment", (ev) => {
      const region = document.getElementById("live");
      if (region) region.innerHTML = JSON.parse(ev.data);
    });
    source.addEventListener("nodes", (ev) => paintNodes(JSON.parse(ev.data)));
    source.addEventListener("log", (ev) => appendLog(JSON.parse(ev.data)));
    source.addEventListener("series", (ev) => drawCharts(JSON.parse(ev.data)));
    source.addEventListener("stats", (ev) => drawStats(JSON.parse(ev.data)));
  }

  function appendLog(lines) {
    const log = document.getElementById("log");
    if (!log) return;
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    for (const line of lines) {
      const span = document.createElement("span");
      const kind = (line.match(/\]\s+([a-z]+-[a-z]+)/) || [])[1] || "";
      span.className = kind.startsWith("worker") ? "ev-worker" : kind.startsWith("workflow") ? "ev-workflow" : "ev-" + kind;
      span.textContent = line + "\n";
      log.appendChild(span);
    }
    while (log.childNodes.length > 1000) log.removeChild(log.firstChild);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  // --- workflow DAG colouring ---------------------------------------------------------------
  const NODE_STATES = ["PENDING", "QUEUED", "RUNNING", "SUCCESS", "FAILURE", "SKIPPED", "RETRY", "REVOKED"];
  const nodeStates = {};  // the latest state of every node, applied again once the DAG is drawn
  function paintNodes(data) {
    const states = data.states || {};
    Object.assign(nodeStates, states);
    for (const [node, state] of Object.entries(states)) {
      const g = document.getElementById("wf_" + node);
      if (g) {
        NODE_STATES.forEach((s) => g.classList.remove("state-" + s));
        g.classList.add("state-" + state);
        g.setAttribute("data-state", state);
      }
      const badge = document.querySelector('[data-node-state="' + CSS.escape(node) + '"]');
      if (badge) { badge.textContent = state; badge.className = "state " + state; }
    }
    const status = document.getElementById("wf-status");
    if (status && data.status) { status.textContent = data.status; status.className = "state big " + data.status; }
    const revoke = document.getElementById("revoke-workflow");
    if (revoke) revoke.hidden = data.status !== "RUNNING";
    const resume = document.getElementById("retry-workflow");
    if (resume) resume.hidden = data.status !== "FAILURE" && data.status !== "REVOKED";
  }

  // --- workflow DAG drawing: dagre lays out, plain SVG draws -------------------------------
  const NODE_PAD_X = 12, NODE_H = 40, LINE_1 = 16, LINE_2 = 31;

  function textWidth(svg, text, cls) {
    const probe = el("text", { class: cls }, text);
    svg.appendChild(probe);
    const width = probe.getComputedTextLength();
    probe.remove();
    return width;
  }

  function edgePath(points) {
    const [first, ...rest] = points;
    if (rest.length === 1) return `M${first.x},${first.y}L${rest[0].x},${rest[0].y}`;
    // a smooth curve through dagre's bend points (quadratic segments between midpoints)
    let d = `M${first.x},${first.y}`;
    for (let i = 0; i < rest.length - 1; i++) {
      const mid = { x: (rest[i].x + rest[i + 1].x) / 2, y: (rest[i].y + rest[i + 1].y) / 2 };
      d += `Q${rest[i].x},${rest[i].y} ${mid.x},${mid.y}`;
    }
    const last = rest[rest.length - 1];
    return d + `L${last.x},${last.y}`;
  }

  function drawDag() {
    const box = document.getElementById("dag");
    const source = document.getElementById("wf-graph");
    if (!box || !source) return;
    if (!window.dagre) { box.textContent = "The graph library did not load; node states are listed below."; return; }
    const graph = JSON.parse(source.textContent);
    const svg = el("svg", { class: "dag", role: "img", "aria-label": "workflow graph" });
    box.replaceChildren(svg);  // in the page, so text can be measured
    const g = new window.dagre.graphlib.Graph();
    g.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 40, marginx: 6, marginy: 6 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of graph.nodes) {
      const width = Math.max(textWidth(svg, n.label, "label"), textWidth(svg, n.sub, "sub"), 40) + 2 * NODE_PAD_X;
      g.setNode(n.id, { width: Math.ceil(width), height: NODE_H, node: n });
    }
    for (const e of graph.edges) g.setEdge(e.from, e.to, { kind: e.kind });
    window.dagre.layout(g);
    const size = g.graph();
    svg.setAttribute("viewBox", `0 0 ${size.width} ${size.height}`);
    svg.setAttribute("width", size.width);
    svg.style.width = size.width + "px";
    const defs = el("defs");
    for (const kind of ["data", "error"]) {
      const marker = el("marker", { id: "arrow-" + kind, viewBox: "0 0 10 10", refX: 9, refY: 5,
        markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      marker.appendChild(el("path", { d: "M0,0L10,5L0,10z", class: "arrow " + kind }));
      defs.appendChild(marker);
    }
    svg.appendChild(defs);
    const edges = el("g", { class: "edges" });
    for (const ref of g.edges()) {
      const edge = g.edge(ref);
      edges.appendChild(el("path", { d: edgePath(edge.points), class: "edge " + edge.kind,
        "marker-end": `url(#arrow-${edge.kind})`, "data-from": ref.v, "data-to": ref.w }));
    }
    svg.appendChild(edges);
    for (const id of g.nodes()) {
      const { x, y, width, height, node } = g.node(id);
      const group = el("g", { class: "node state-PENDING " + node.kind, id: "wf_" + id, "data-state": "PENDING",
        transform: `translate(${x - width / 2},${y - height / 2})` });
      group.appendChild(el("title", {}, node.title));
      const link = el("a", { href: node.href });
      if (node.kind === "map") link.appendChild(el("rect", { class: "stack", x: 4, y: 4, width, height, rx: 6 }));
      link.appendChild(el("rect", { class: "box", width, height, rx: 6 }));
      link.appendChild(el("text", { class: "label", x: width / 2, y: LINE_1, "text-anchor": "middle" }, node.label));
      link.appendChild(el("text", { class: "sub", x: width / 2, y: LINE_2, "text-anchor": "middle" }, node.sub));
      group.appendChild(link);
      svg.appendChild(group);
    }
    paintNodes({ states: nodeStates });
  }

  // --- charts -------------------------------------------------------------------------------
  const COLOURS = ["#2f6fab", "#1b7f4b", "#b3261e", "#8a5a00", "#6a4bc4", "#0f8a8a", "#c2185b"];

  function el(name, attrs, text) {
    const node = document.createElementNS(SVGNS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function lineChart(box, series, xMin, xMax, xLabel, yFloor) {
    if (!box) return;
    const W = 600, H = 200, L = 44, R = 10, T = 10, B = 28;
    let yMax = yFloor === undefined ? 1 : 0;
    series.forEach((s) => s.points.forEach(([, y]) => { if (y > yMax) yMax = y; }));
    yMax = niceMax(Math.max(yMax, yFloor === undefined ? 4 : yFloor));
    const x = (v) => L + ((v - xMin) / (xMax - xMin || 1)) * (W - L - R);
    const y = (v) => H - B - (v / yMax) * (H - T - B);
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img" });
    for (let i = 0; i <= 4; i++) {
      const v = (yMax / 4) * i;
      svg.appendChild(el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: i ? "gridline" : "axis" }));
      svg.appendChild(el("text", { x: L - 6, y: y(v) + 3, "text-anchor": "end" }, fmt(v)));
    }
    svg.appendChild(el("text", { x: L, y: H - 8 }, xLabel));
    svg.appendChild(el("text", { x: W - R, y: H - 8, "text-anchor": "end" }, "now"));
    const legend = el("g", { class: "legend" });
    series.forEach((s, i) => {
      const colour = s.colour || COLOURS[i % COLOURS.length];
      if (s.dots) {
        s.points.forEach(([px, py]) => svg.appendChild(el("circle", { cx: x(px).toFixed(1), cy: y(py).toFixed(1), r: 2.5, fill: colour, class: "dot" })));
      } else if (s.points.length) {
        const d = s.points.map(([px, py], j) => (j ? "L" : "M") + x(px).toFixed(1) + "," + y(py).toFixed(1)).join("");
        svg.appendChild(el("path", { d, fill: "none", stroke: colour, "stroke-width": 1.8, "vector-effect": "non-scaling-stroke" }));
      }
      const lx = L + 10 + i * 110;
      legend.appendChild(el("rect", { x: lx, y: T, width: 10, height: 10, fill: colour, rx: 2 }));
      legend.appendChild(el("text", { x: lx + 14, y: T + 9 }, s.name));
    });
    svg.appendChild(legend);
    box.replaceChildren(svg);
  }

  function niceMax(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function fmt(v) { if (v > 0 && v < 1) return String(Number(v.toPrecision(2))); return v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + "k" : String(Math.round(v * 10) / 10); }

  function drawCharts(data) {
    const now = data.now;
    const depth = Object.entries(data.depths || {}).map(([queue, pts]) => ({ name: queue, points: pts }));
    lineChart(document.getElementById("chart-depth"), depth, -600, 0, "−10 min");
    const rel = (pts) => pts.map(([s, n]) => [s - now, n]);
    lineChart(document.getElementById("chart-rate"), [
      { name: "succeeded", points: rel(data.succeeded || []), colour: "#1b7f4b" },
      { name: "failed", points: rel(data.failed || []), colour: "#b3261e" },
      { name: "received", points: rel(data.received || []), colour: "#2f6fab" },
    ], -300, 0, "−5 min");
  }

  function drawStats(data) {
    const now = data.now;
    const rel = (pts) => pts.map(([s, n]) => [s - now, n]);
    const runtimes = Object.entries(data.runtimes || {}).slice(0, COLOURS.length)
      .map(([name, pts]) => ({ name: name.split(".").pop(), points: pts, dots: true }));
    lineChart(document.getElementById("chart-runtime"), runtimes, -300, 0, "−5 min", 0.001);
    lineChart(document.getElementById("chart-throughput"), [
      { name: "succeeded", points: rel(data.succeeded || []), colour: "#1b7f4b" },
      { name: "failed", points: rel(data.failed || []), colour: "#b3261e" },
      { name: "retried", points: rel(data.retried || []), colour: "#8a5a00" },
    ], -300, 0, "−5 min");
  }

  // --- the submit page (the interactive demo) -----------------------------------------------
  function formValues(form) {
    const out = {};
    new FormData(form).forEach((v, k) => { out[k] = v; });
    return out;
  }

  function parseJson(text, what) {
    if (!text || !text.trim()) return undefined;
    try { return JSON.parse(text); } catch (e) { throw new Error(what + " is not valid JSON: " + e.message); }
  }

  function note(html, bad) {
    const box = document.getElementById("submitted");
    const item = document.createElement("div");
    if (bad) { item.className = "bad"; item.textContent = html; } else {
      item.appendChild(html);
      box.querySelectorAll("div.bad").forEach((old) => old.remove());  // a later success clears errors
    }
    box.prepend(item);
    while (box.childNodes.length > 6) box.removeChild(box.lastChild);
  }

  function link(href, text, before) {
    const frag = document.createDocumentFragment();
    frag.appendChild(document.createTextNode(before));
    const a = document.createElement("a");
    a.href = href; a.textContent = text;
    frag.appendChild(a);
    return frag;
  }

  function follow(kind, id) {
    const log = document.getElementById("log");
    if (!log) return;
    log.dataset.filter = id; log.dataset.filterKind = kind;
    const scope = document.getElementById("log-scope");
    if (scope) scope.textContent = "(" + kind + " " + id + ")";
    log.replaceChildren();
    connect();
  }

  async function submit(form, repeat) {
    const values = formValues(form);
    let body;
    try {
      if (form.id === "submit-task") {
        body = { task: values.task, args: parseJson(values.args, "Arguments") || [],
                 kwargs: parseJson(values.kwargs, "Keyword arguments") || {} };
        if (values.queue) body.queue = values.queue;
        if (values.countdown) body.countdown = Number(values.countdown);
      } else if (form.id === "submit-canvas") {
        body = { canvas: parseJson(values.canvas, "The canvas") };
      } else {
        body = { source: values.source, flow: values.flow || null, params: parseJson(values.params, "Parameters") || {} };
      }
    } catch (err) { note(err.message, true); return; }
    for (let i = 0; i < (repeat || 1); i++) {
      try {
        const data = await post(form.dataset.submit, body);
        if (data.task_id) {
          note(link("/task/" + data.task_id, data.task_id, "sent " + data.task + " → "));
          if (!repeat || repeat === 1) follow("task", data.task_id);
        } else if (data.workflow_id) {
          note(link("/workflow/" + data.workflow_id, data.workflow_id, "workflow of " + data.nodes + " node(s) → "));
          follow("workflow", data.workflow_id);
        }
      } catch (err) {
        if (err.status === 401) note("Refused: log in first.", true);
        else note(err.message, true);
        return;
      }
    }
    if (repeat > 1) { const log = document.getElementById("log"); delete log.dataset.filter; connect(); }
  }

  function setupSubmit() {
    document.querySelectorAll("form[data-submit]").forEach((form) => {
      form.addEventListener("submit", (ev) => { ev.preventDefault(); submit(form, 1); });
      form.querySelectorAll("button[data-repeat]").forEach((b) =>
        b.addEventListener("click", () => submit(form, Number(b.dataset.repeat))));
    });
    const picker = document.getElementById("flow-file");
    if (picker) picker.addEventListener("change", async () => {
      if (!picker.value) return;
      const response = await fetch("/flows/" + encodeURIComponent(picker.value), { credentials: "same-origin" });
      if (response.ok) document.querySelector("#submit-flow textarea[name=source]").value = await response.text();
    });
  }

  function setupWorkflow() {
    const initial = document.getElementById("wf-states");
    const status = document.getElementById("wf-status");
    if (initial) Object.assign(nodeStates, JSON.parse(initial.textContent));
    drawDag();
    if (initial) paintNodes({ states: nodeStates, status: status ? status.textContent : null });
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupSubmit();
    setupWorkflow();
    connect();
  });
})();
