// Logs: the requests clients made through the gateway (filtered, paged, each
// row's full detail), the audit log of management changes, the server's
// console log (filtered by level and text, optionally followed live) and the
// live monitor of requests as they start and end. The two live views use
// server-sent events (EventSource) and close when the tab or page is left.
// #/logs/<tab> opens a tab; #/logs/requests/<id> opens one request's detail.
import { get, query } from "../api.js";
import { badge, busy, button, checkbox, clear, copyBox, field, h, pageHead, select, table, tabs, uid } from "../dom.js";
import { formatNumber, formatTime, t } from "../i18n.js";

const TABS = [
  { id: "requests", label: "logs.tab.requests" },
  { id: "audit", label: "logs.tab.audit" },
  { id: "console", label: "logs.tab.console" },
  { id: "live", label: "logs.tab.live" },
];
const PAGE_SIZE = 50;

export default async function render(root, ctx) {
  const [wanted, detailId] = ctx.params;
  const initial = TABS.some((tab) => tab.id === wanted) ? wanted : "requests";
  const panel = h("div", { role: "tabpanel", id: uid("logs-panel") });
  let generation = 0;
  let current = initial;
  let reload = null; // the shown tab's own refresh (keeps its filters), if it has one
  let stops = []; // what the shown tab must close when it is left (live streams)
  const stopAll = () => {
    for (const stop of stops) stop();
    stops = [];
  };
  ctx.signal.addEventListener("abort", stopAll, { once: true });

  function show(id) {
    stopAll();
    current = id;
    generation += 1;
    const mine = generation;
    const alive = () => mine === generation && !ctx.signal.aborted;
    panel.setAttribute("aria-label", t(TABS.find((tab) => tab.id === id).label));
    clear(panel);
    // Keep the address in step with the tab without reloading the page.
    if (location.hash !== `#/logs/${id}`) history.replaceState(null, "", `#/logs/${id}`);
    reload = null;
    const offer = (fn) => {
      if (alive()) reload = fn;
    };
    const onStop = (fn) => (alive() ? stops.push(fn) : fn());
    if (id === "requests") requestsTab(panel, alive, ctx, offer);
    else if (id === "audit") auditTab(panel, alive, offer);
    else if (id === "console") consoleTab(panel, alive, offer, onStop);
    else liveTab(panel, onStop);
  }

  root.append(
    pageHead("logs.title", button("common.refresh", () => (reload ? reload() : show(current)), { class: "secondary" })),
    tabs(TABS, show, initial),
    panel,
  );
  if (initial === "requests" && detailId) {
    const row = await busy(null, () => get(`/api/logs/requests/${encodeURIComponent(detailId)}`));
    if (row && !ctx.signal.aborted) openDetail(row, ctx.signal);
  }
}

// ---- requests ---------------------------------------------------------------

function statusKind(status) {
  if (status >= 500) return "bad";
  if (status >= 400) return "warn";
  return status >= 200 && status < 300 ? "ok" : "";
}

function keyLabel(row) {
  if (row.key_name) return row.key_name;
  return row.client_key_id == null ? t("logs.no-key") : t("logs.key-id", { id: row.client_key_id });
}

function modelCell(row) {
  const asked = row.model || "—";
  if (!row.resolved_model || row.resolved_model === row.model) return asked;
  return h("span", {}, asked, h("span", { class: "muted" }, ` → ${row.resolved_model}`));
}

const ms = (value) => (value == null ? "—" : t("logs.ms", { n: formatNumber(value, { maximumFractionDigits: 0 }) }));

const COLUMNS = [
  { label: "logs.col.time", value: (r) => formatTime(r.ts) },
  { label: "logs.col.key", value: keyLabel },
  { label: "logs.col.model", value: modelCell },
  { label: "logs.col.provider", value: (r) => r.provider || "—" },
  { label: "logs.col.status", value: (r) => badge(String(r.status), statusKind(r.status)) },
  { label: "logs.col.latency", value: (r) => ms(r.latency_ms) },
  {
    label: "logs.col.tokens",
    value: (r) => t("logs.tokens", { input: formatNumber(r.input_tokens), output: formatNumber(r.output_tokens) }),
  },
];

async function requestsTab(panel, alive, ctx, offer) {
  const status = select(
    [["", t("logs.any")], ["2xx", t("logs.status.2xx")], ["4xx", t("logs.status.4xx")], ["5xx", t("logs.status.5xx")]],
    "",
  );
  const model = h("input", { type: "search", autocomplete: "off", spellcheck: "false" });
  const provider = select([["", t("logs.any")]], "");
  const key = select([["", t("logs.any")]], "");
  const period = select(
    [["", t("logs.period.any")], ["24h", t("logs.period.24h")], ["7d", t("logs.period.7d")], ["30d", t("logs.period.30d")]],
    "",
  );
  const form = h("form", { class: "form-grid", role: "search", "aria-label": t("logs.filters") },
    field("logs.filter.status", status),
    field("logs.filter.model", model, "logs.filter.model-hint"),
    field("logs.filter.provider", provider),
    field("logs.filter.key", key),
    field("logs.filter.period", period));
  const list = h("div");
  const more = button("logs.more", () => load(true), { class: "secondary" });
  const moreRow = h("div", { class: "row" });
  const summary = h("p", { class: "muted small", role: "status" });
  panel.append(h("div", { class: "card" }, form), h("div", { class: "card" }, summary, list, moreRow));

  let rows = [];
  let nextBefore = null;
  let asked = null; // the filters last asked for: asking again is skipped
  let sequence = 0; // only the newest load's answer is shown

  async function load(append) {
    const filters = {
      status: status.value,
      model: model.value.trim(),
      provider: provider.value,
      key: key.value,
      since: period.value,
    };
    // Enter in the model field both commits it and submits the form: one load.
    const signature = JSON.stringify(filters);
    if (!append && signature === asked) return;
    asked = signature;
    sequence += 1;
    const mine = sequence;
    const params = { limit: PAGE_SIZE, before: append ? nextBefore : "", ...filters };
    const answer = await busy(more, () => get(`/api/logs/requests${query(params)}`));
    if (!answer && mine === sequence) asked = null; // failed: the same filters may retry
    if (!answer || !alive() || mine !== sequence) return;
    rows = append ? rows.concat(answer.requests) : answer.requests;
    nextBefore = answer.next_before;
    clear(list, table(COLUMNS, rows, { onRowClick: (row) => openDetail(row, ctx.signal), empty: "logs.none" }));
    summary.textContent = t("logs.shown", { n: formatNumber(rows.length) });
    clear(moreRow, nextBefore == null ? null : more);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(false);
  });
  for (const control of [status, model, provider, key, period]) control.addEventListener("change", () => load(false));
  offer(() => {
    asked = null;
    return load(false);
  });

  await load(false);
  // The filters' choices: providers and client keys as configured now.
  const [providers, keys] = await Promise.all([
    busy(null, () => get("/api/providers")),
    busy(null, () => get("/api/keys")),
  ]);
  if (!alive()) return;
  for (const p of providers?.providers || []) provider.append(h("option", { value: p.name }, p.name));
  for (const k of keys?.keys || []) {
    key.append(h("option", { value: String(k.id) }, k.name ? `${k.name} (${k.prefix})` : k.prefix));
  }
}

// The full row, as a dialog; the address says which row is open.
const DETAIL_FIELDS = [
  ["id", "logs.field.id"],
  ["ts", "logs.field.ts", formatTime],
  ["request_id", "logs.field.request-id"],
  ["key_name", "logs.field.key", (v, r) => keyLabel(r)],
  ["model", "logs.field.model"],
  ["resolved_model", "logs.field.resolved-model"],
  ["provider", "logs.field.provider"],
  ["account_id", "logs.field.account-id", (v, r) => (v == null ? null : `${r.provider || "?"}#${v}`)],
  ["operation", "logs.field.operation"],
  ["client_format", "logs.field.client-format"],
  ["upstream_format", "logs.field.upstream-format"],
  ["stream", "logs.field.stream", (v) => t(v ? "common.yes" : "common.no")],
  ["status", "logs.field.status", (v) => badge(String(v), statusKind(v))],
  ["error_kind", "logs.field.error-kind"],
  ["latency_ms", "logs.field.latency-ms", ms],
  ["ttft_ms", "logs.field.ttft-ms", ms],
  ["input_tokens", "logs.field.input-tokens", formatNumber],
  ["output_tokens", "logs.field.output-tokens", formatNumber],
  ["cached_tokens", "logs.field.cached-tokens", formatNumber],
  ["reasoning_tokens", "logs.field.reasoning-tokens", formatNumber],
  ["usage_estimated", "logs.field.usage-estimated", (v) => t(v ? "common.yes" : "common.no")],
];

function openDetail(row, signal) {
  const titleId = uid("detail");
  const list = h("dl", { class: "log-detail" });
  for (const [name, label, format] of DETAIL_FIELDS) {
    const value = format ? format(row[name], row) : row[name];
    list.append(h("dt", {}, t(label)), h("dd", {}, value == null || value === "" ? "—" : value));
  }
  const dialog = h("dialog", { "aria-labelledby": titleId, class: "log-dialog" },
    h("h2", { id: titleId }, t("logs.detail.title", { id: row.id })),
    list,
    h("details", {}, h("summary", {}, t("logs.detail.raw")), copyBox(JSON.stringify(row, null, 2))),
    h("div", { class: "row" }, button("common.close", () => dialog.close(), { class: "secondary" })));
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (location.hash.startsWith("#/logs/requests/")) history.replaceState(null, "", "#/logs/requests");
  });
  signal.addEventListener("abort", () => dialog.open && dialog.close(), { once: true });
  document.body.append(dialog);
  history.replaceState(null, "", `#/logs/requests/${row.id}`);
  dialog.showModal();
}

// ---- audit ------------------------------------------------------------------

const shortJson = (value) => (value === undefined ? "—" : JSON.stringify(value));

function changes(detail) {
  const before = detail?.before;
  const after = detail?.after;
  if (before && after && typeof before === "object" && typeof after === "object") {
    const names = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    if (!names.length) return "—";
    return h("ul", { class: "audit-changes" }, names.map((name) =>
      h("li", {}, h("code", {}, name), ": ", h("span", { class: "muted" }, shortJson(before[name])), " → ",
        shortJson(after[name]))));
  }
  const text = detail && Object.keys(detail).length ? JSON.stringify(detail) : "—";
  return h("code", { class: "audit-detail" }, text);
}

const AUDIT_COLUMNS = [
  { label: "logs.audit.time", value: (e) => formatTime(e.ts) },
  { label: "logs.audit.actor", value: (e) => (e.address ? `${e.actor} (${e.address})` : e.actor) },
  { label: "logs.audit.action", value: (e) => h("code", {}, e.action) },
  { label: "logs.audit.target", value: (e) => e.target || "—" },
  { label: "logs.audit.changes", value: (e) => changes(e.detail) },
];

async function auditTab(panel, alive, offer) {
  const list = h("div");
  const more = button("logs.more", () => load(true), { class: "secondary" });
  const moreRow = h("div", { class: "row" });
  panel.append(h("div", { class: "card" }, h("p", { class: "muted" }, t("logs.audit.intro")), list, moreRow));
  let entries = [];
  let nextBefore = null;

  async function load(append) {
    const answer = await busy(more, () => get(`/api/audit${query({ limit: PAGE_SIZE, before: append ? nextBefore : "" })}`));
    if (!answer || !alive()) return;
    entries = append ? entries.concat(answer.entries) : answer.entries;
    nextBefore = answer.next_before;
    clear(list, table(AUDIT_COLUMNS, entries, { empty: "logs.audit.none" }));
    clear(moreRow, nextBefore == null ? null : more);
  }
  offer(() => load(false));
  await load(false);
}

// ---- console log ------------------------------------------------------------

const LEVELS = ["debug", "info", "warning", "error"];
const LEVEL_BADGE = { debug: "", info: "", warning: "warn", error: "bad", critical: "bad" };
const CONSOLE_MAX = 500; // lines kept on the page while following

const CONSOLE_COLUMNS = [
  { label: "logs.console.time", value: (e) => formatTime(e.ts) },
  { label: "logs.console.level", value: (e) => badge(e.level, LEVEL_BADGE[e.level]) },
  { label: "logs.console.logger", value: (e) => h("code", {}, e.logger) },
  { label: "logs.console.message", value: (e) => h("pre", { class: "console-line" }, e.message) },
];

async function consoleTab(panel, alive, offer, onStop) {
  const level = select(LEVELS.map((l) => [l, t(`logs.level.${l}`)]), "info");
  const search = h("input", { type: "search", autocomplete: "off", spellcheck: "false" });
  const follow = checkbox("logs.console.follow", false);
  const form = h("form", { class: "form-grid", role: "search", "aria-label": t("logs.console.filters") },
    field("logs.console.filter-level", level),
    field("logs.console.filter-text", search, "logs.console.filter-hint"),
    follow.element);
  const list = h("div");
  const summary = h("p", { class: "muted small", role: "status" });
  panel.append(h("div", { class: "card" }, form), h("div", { class: "card" }, summary, list));
  let entries = []; // newest first
  let source = null;

  const filters = () => ({ level: level.value, q: search.value.trim() });
  function draw() {
    clear(list, table(CONSOLE_COLUMNS, entries, { empty: "logs.console.none" }));
    summary.textContent = t(source ? "logs.console.following" : "logs.console.shown", { n: formatNumber(entries.length) });
  }
  function close() {
    if (source) source.close();
    source = null;
  }
  onStop(close);

  async function load() {
    close();
    const answer = await busy(null, () => get(`/api/logs/console${query({ ...filters(), limit: CONSOLE_MAX })}`));
    if (!answer || !alive()) return;
    entries = answer.entries.slice().reverse();
    if (follow.input.checked) {
      // Only what comes after the lines shown: none is missed or repeated.
      source = new EventSource(`/api/logs/console/stream${query({ ...filters(), after: answer.last_seq })}`);
      source.addEventListener("log", (event) => {
        entries.unshift(JSON.parse(event.data));
        entries.length = Math.min(entries.length, CONSOLE_MAX);
        draw();
      });
    }
    draw();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  for (const control of [level, follow.input]) control.addEventListener("change", load);
  search.addEventListener("change", load);
  offer(load);
  await load();
}

// ---- live monitor -----------------------------------------------------------

const LIVE_MAX = 200; // requests kept on the page

const LIVE_COLUMNS = [
  { label: "logs.col.time", value: (r) => formatTime(r.ts) },
  { label: "logs.live.request", value: (r) => h("code", {}, r.request_id) },
  { label: "logs.col.model", value: (r) => r.model || "—" },
  { label: "logs.col.provider", value: (r) => r.provider || "—" },
  {
    label: "logs.col.status",
    value: (r) => (r.status == null ? badge(t("logs.live.running"), "warn") : badge(String(r.status), statusKind(r.status))),
  },
  { label: "logs.field.ttft-ms", value: (r) => ms(r.ttft_ms) },
  { label: "logs.col.latency", value: (r) => ms(r.latency_ms) },
  {
    label: "logs.col.tokens",
    value: (r) => (r.status == null ? "—" : t("logs.tokens", { input: formatNumber(r.input_tokens), output: formatNumber(r.output_tokens) })),
  },
];

function liveTab(panel, onStop) {
  const list = h("div");
  const state = h("p", { class: "muted small", role: "status" }, t("logs.live.connecting"));
  panel.append(h("div", { class: "card" }, h("p", { class: "muted" }, t("logs.live.intro")), state, list));
  const requests = new Map(); // request id -> what is known, newest last
  let drawing = false;

  function draw() {
    drawing = false;
    clear(list, table(LIVE_COLUMNS, [...requests.values()].reverse(), { empty: "logs.live.none" }));
  }
  function later() {
    if (!drawing) {
      drawing = true;
      requestAnimationFrame(draw);
    }
  }
  function update(event) {
    const data = JSON.parse(event.data);
    const known = requests.get(data.request_id) || { ts: data.ts, status: null };
    requests.delete(data.request_id); // re-inserted: the newest activity comes first
    const merged = { ...known, ...data, ts: known.ts };
    if (event.type !== "end") merged.status = null;
    requests.set(data.request_id, merged);
    while (requests.size > LIVE_MAX) requests.delete(requests.keys().next().value);
    later();
  }

  const source = new EventSource("/api/monitor");
  source.addEventListener("open", () => (state.textContent = t("logs.live.connected")));
  source.addEventListener("error", () => (state.textContent = t("logs.live.reconnecting")));
  for (const name of ["start", "first_token", "end"]) source.addEventListener(name, update);
  onStop(() => source.close());
  draw();
}
