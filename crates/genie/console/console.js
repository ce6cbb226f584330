// Faux Genie's web console: plain JavaScript, no dependencies, served by genie itself.
// The API key lives in sessionStorage (this tab only) and travels only in the Authorization
// header: never in a URL, so never in a log or the browser history. Every value from the
// server is put into the page as text (textContent), never as HTML.

const KEY = "genie-console-key";
const STATUS_EVERY_MS = 1000;
const LOG_EVERY_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";
const base = location.origin;
let key = sessionStorage.getItem(KEY);

const $ = (sel) => document.querySelector(sel);

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(typeof c === "string" || typeof c === "number" ? String(c) : c);
  }
  return e;
}

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/** GET `path` with the key; the parsed body (or null) and the status. */
async function api(path, withKey = true) {
  const headers = { Accept: "application/json" };
  if (withKey && key) headers.Authorization = `Bearer ${key}`;
  const r = await fetch(path, { headers, cache: "no-store" });
  const text = await r.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: r.status, ok: r.ok, body, headers: r.headers };
}

function problemText(r) {
  if (r.body && typeof r.body === "object" && r.body.detail) return `${r.status}: ${r.body.detail}`;
  return `HTTP ${r.status}`;
}

// ---- the key -------------------------------------------------------------------------

async function login(ev) {
  ev.preventDefault();
  const given = $("#key-input").value.trim();
  const err = $("#key-error");
  err.hidden = true;
  if (!given) return;
  key = given;
  const r = await api("/v1/console/status");
  if (!r.ok) {
    key = null;
    err.textContent = `This key was refused: ${problemText(r)}`;
    err.hidden = false;
    return;
  }
  sessionStorage.setItem(KEY, given);
  $("#key-input").value = "";
  start(r.body);
}

function forget() {
  sessionStorage.removeItem(KEY);
  location.reload();
}

// ---- the shop ------------------------------------------------------------------------

function renderStatus(s) {
  $("#as-of").textContent = s.clock.as_of ? s.clock.as_of.replace("T", " ").replace("Z", " UTC") : "not started";
  $("#as-of").dateTime = s.clock.as_of || "";
  $("#speed").textContent = `×${s.clock.speed}`;
  $("#speed").title = `${s.clock.speed} virtual seconds per real second`;
  const chaos = $("#chaos");
  chaos.textContent = `chaos: ${s.chaos}`;
  chaos.classList.toggle("chaos-on", s.chaos !== "off");
  $("#key-name").textContent = `${s.key.prefix}… (${s.key.name})`;

  const counts = $("#counts tbody");
  counts.replaceChildren(
    ...s.resources.map((r) =>
      el("tr", { "data-resource": r.name }, el("td", {}, r.name), el("td", { class: "num" }, r.rows === null ? "…" : r.rows.toLocaleString("en")))
    )
  );
  $("#counts-note").textContent =
    s.counts_age_s === null ? "Counting…" : `Live rows (deleted ones not counted), recounted every 10 s; these are ${s.counts_age_s} s old.`;

  const changes = $("#changes tbody");
  changes.replaceChildren(
    ...s.latest_changes.map((c) =>
      el("tr", {}, el("td", { class: "num" }, c.seq), el("td", {}, c.ts.replace("T", " ").replace("Z", "")), el("td", {}, c.table), el("td", {}, c.op), el("td", { class: "id" }, c.id))
    )
  );
  if (s.latest_changes.length === 0) changes.append(el("tr", {}, el("td", { colSpan: 5, class: "note" }, "No changes retained for the resources this key may read.")));

  renderChart(s.orders_per_day, s.counts_age_s === null);
}

function renderChart(days, counting) {
  const chart = $("#chart");
  if (!days) {
    chart.replaceChildren();
    $("#chart-note").textContent = counting ? "Counting…" : "This scenario has no orders, or this key may not read them.";
    return;
  }
  const w = 420, h = 180, pad = 22, max = Math.max(1, ...days.map((d) => d.orders));
  const bw = (w - 2 * pad) / days.length;
  const nodes = [];
  days.forEach((d, i) => {
    const bh = ((h - 2 * pad) * d.orders) / max;
    const x = pad + i * bw + 2;
    const bar = svg("rect", { x, y: h - pad - bh, width: Math.max(1, bw - 4), height: bh, class: i === days.length - 1 ? "bar today" : "bar" });
    bar.append(svg("title", {}, `${d.day}: ${d.orders} orders${i === days.length - 1 ? " so far" : ""}`));
    nodes.push(bar);
    // every other day labelled, counted back from today's
    if ((days.length - 1 - i) % 2 === 0) nodes.push(svg("text", { x: x + (bw - 4) / 2, y: h - 6, "text-anchor": "middle" }, d.day.slice(5)));
    nodes.push(svg("text", { x: x + (bw - 4) / 2, y: h - pad - bh - 3, "text-anchor": "middle" }, String(d.orders)));
  });
  chart.replaceChildren(...nodes);
  $("#chart-note").textContent = `Last ${days.length} virtual days; the last bar is today so far.`;
}

// ---- the request log -----------------------------------------------------------------

function chaosCell(c) {
  if (!c) return el("td");
  const marks = [];
  if (c.fault) marks.push(el("span", { class: "fault", title: "injected by --chaos: retry, honouring Retry-After" }, `chaos: ${c.fault}`));
  if (c.delay_ms !== null && c.delay_ms !== undefined) marks.push(el("span", { class: "slow" }, `chaos: +${c.delay_ms} ms`));
  if (c.cut) marks.push(el("span", { class: "fault", title: "the body was cut short: retry" }, `chaos: ${c.cut}`));
  for (const d of c.data || []) marks.push(el("span", { class: "slow", title: "a data fault: see /v1/chaos/log" }, `chaos: ${d}`));
  if (c.overlap_rows) marks.push(el("span", { class: "slow", title: "the next page repeats rows of this one: upsert on the primary key" }, `chaos: next page repeats ≤${c.overlap_rows}`));
  return el("td", { class: "chaos" }, ...marks.flatMap((m, i) => (i ? [" ", m] : [m])));
}

function renderLog(log) {
  $("#log-capacity").textContent = log.capacity;
  const rows = log.data.map((e) =>
    el(
      "tr",
      { "data-request-id": e.request_id, class: e.chaos && e.chaos.fault ? "is-fault" : "" },
      el("td", {}, e.at.slice(11, 23)),
      el("td", {}, e.method),
      el("td", { class: "path" }, e.path),
      el("td", { class: `num s${String(e.status)[0]}` }, e.status),
      el("td", { class: "num" }, e.latency_ms.toFixed(1)),
      el("td", { class: "num" }, e.rate_limit_remaining ?? ""),
      chaosCell(e.chaos),
      el("td", { class: "id" }, e.request_id)
    )
  );
  $("#log tbody").replaceChildren(...rows);
  $("#log-empty").hidden = rows.length > 0;
}

// ---- the API reference ---------------------------------------------------------------

function renderReference(doc) {
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete", "head"].includes(method)) continue;
      ops.push(operation(doc, path, method.toUpperCase(), op));
    }
  }
  $("#ops").replaceChildren(...ops);
  return ops.length;
}

function operation(doc, path, method, op) {
  const params = (op.parameters || []).filter((p) => p.in === "path" || p.in === "query");
  const inputs = params.map((p) => {
    const input = el("input", { name: p.name, "data-in": p.in, required: p.in === "path", placeholder: p.schema && p.schema.default !== undefined ? `default ${p.schema.default}` : p.in === "path" ? "required" : "" });
    return el("label", { title: p.description || "" }, el("span", { class: "pn" }, `${p.name}${p.in === "path" ? " (path)" : ""}`), input);
  });
  const out = el("pre", { class: "result", hidden: true });
  const status = el("span", { class: "result-status" });
  const button = el("button", { type: "submit", class: "primary" }, "Try it");
  const form = el("form", { class: "params" }, ...inputs, el("p", {}, button, " ", status));
  const open = !(op.security && op.security.length === 0);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let url = path;
    const query = new URLSearchParams();
    for (const input of form.querySelectorAll("input")) {
      const v = input.value.trim();
      if (input.dataset.in === "path") url = url.replace(`{${input.name}}`, encodeURIComponent(v));
      else if (v) query.set(input.name, v);
    }
    const qs = query.toString();
    if (qs) url += `?${qs}`;
    status.textContent = "…";
    try {
      const r = await api(url, open);
      status.textContent = `${method} ${url} → ${r.status}${r.headers.get("x-request-id") ? ` (${r.headers.get("x-request-id")})` : ""}`;
      status.className = `result-status s${String(r.status)[0]}`;
      const text = typeof r.body === "string" ? r.body : JSON.stringify(r.body, null, 2);
      out.textContent = text.length > 20000 ? `${text.slice(0, 20000)}\n… (${text.length} characters)` : text;
      out.hidden = false;
    } catch (e) {
      status.textContent = `failed: ${e}`;
    }
  });
  return el(
    "details",
    { class: "op", "data-op": `${method} ${path}` },
    el("summary", {}, el("span", { class: "method" }, method), el("span", { class: "p" }, path), el("span", { class: "s" }, op.summary || "")),
    el("div", { class: "body" }, op.description ? el("p", { class: "note" }, op.description) : null, form, out)
  );
}

// ---- snippets --------------------------------------------------------------------------

function snippets() {
  return [
    ["curl", "curl", `curl -sS -H "Authorization: Bearer $GENIE_API_KEY" '${base}/v1/orders?limit=5'`],
    [
      "dlt",
      "dlt (every resource into PostgreSQL, incrementally; examples/genie/dlt)",
      [
        `export GENIE_URL=${base}`,
        "export DESTINATION__POSTGRES__CREDENTIALS=postgresql://postgres:unused@127.0.0.1:5432/warehouse",
        ".venv-clients/dlt/bin/python examples/genie/dlt/genie_pipeline.py",
      ].join("\n"),
    ],
    ["singer", "Singer (tap-rest-api-msdk; examples/genie/singer)", `GENIE_URL=${base} examples/genie/singer/run.sh > messages.jsonl`],
    [
      "airbyte",
      "Airbyte (declarative manifest; examples/genie/airbyte)",
      [
        ".venv-clients/airbyte/bin/python - <<'PY' > config.json",
        "import json, os, yaml",
        'print(json.dumps({"__injected_declarative_manifest": yaml.safe_load(open("examples/genie/airbyte/manifest.yaml")),',
        `                  "api_url": "${base}", "api_key": os.environ["GENIE_API_KEY"],`,
        '                  "start_date": "2024-01-01T00:00:00Z"}))',
        "PY",
        ".venv-clients/airbyte/bin/source-declarative-manifest check --config config.json",
      ].join("\n"),
    ],
  ];
}

function renderSnippets() {
  $("#snippet-list").replaceChildren(
    ...snippets().map(([id, title, text]) => {
      const pre = el("pre", { "data-snippet": id }, text);
      const copy = el("button", { type: "button" }, "Copy");
      copy.addEventListener("click", () => {
        navigator.clipboard.writeText(text).then(
          () => (copy.textContent = "Copied"),
          () => (copy.textContent = "Select and copy")
        );
      });
      return el("div", { class: "snippet" }, el("h3", {}, title, copy), pre);
    })
  );
}

// ---- polling ---------------------------------------------------------------------------

async function pollStatus() {
  const r = await api("/v1/console/status");
  if (r.status === 401) return forget();
  if (r.ok) renderStatus(r.body);
}

async function pollLog() {
  const r = await api("/v1/console/requests");
  if (r.ok) renderLog(r.body);
}

/** Runs `f` every `ms`, one call at a time. */
function every(ms, f) {
  const loop = async () => {
    try {
      await f();
    } catch {
      // a failed poll (the server restarting) is retried on the next turn
    }
    setTimeout(loop, ms);
  };
  setTimeout(loop, ms);
}

async function start(status) {
  document.documentElement.dataset.ready = "false";
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#clock").hidden = false;
  $("#who").hidden = false;
  renderSnippets();
  // the reference (a large document) comes in while the shop and the log are drawn
  const reference = api("/openapi.json", false);
  const [s, log] = await Promise.all([
    status ? Promise.resolve({ ok: true, body: status }) : api("/v1/console/status"),
    api("/v1/console/requests"),
  ]);
  if (!s.ok) {
    sessionStorage.removeItem(KEY);
    key = null;
    $("#app").hidden = true;
    $("#login").hidden = false;
    $("#key-error").textContent = `The stored key was refused: ${problemText(s)}`;
    $("#key-error").hidden = false;
    return;
  }
  renderStatus(s.body);
  if (log.ok) renderLog(log.body);
  // what the browser test reports as time to interactive: the clock, the shop and the log
  // drawn, their handlers attached
  performance.mark("console-interactive");
  every(STATUS_EVERY_MS, pollStatus);
  every(LOG_EVERY_MS, pollLog);
  const doc = await reference;
  if (doc.ok) renderReference(doc.body);
  else $("#ops").textContent = `The API reference could not be loaded: ${problemText(doc)}`;
  // and everything, the reference included
  performance.mark("console-complete");
  document.documentElement.dataset.ready = "true";
}

$("#key-form").addEventListener("submit", login);
$("#forget").addEventListener("click", forget);
if (key) start();
else {
  performance.mark("console-interactive");
  performance.mark("console-complete");
  document.documentElement.dataset.ready = "true";
  $("#key-input").focus();
}
