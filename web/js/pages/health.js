// Health: what the gateway remembers about its upstreams (breakers,
// cooldowns, rate limiters, latency) with a reset for each, latency
// percentiles per model over a chosen window (from /api/telemetry), and the
// process itself (version, uptime, memory, queues) and the response cache
// (hit rate, size, cost saved). Refreshes every 10 seconds.
import { get, post, query } from "../api.js";
import { badge, busy, button, clear, confirmDialog, field, h, pageHead, select, table, toast } from "../dom.js";
import { formatMoney, formatNumber, t } from "../i18n.js";

const REFRESH_MS = 10_000;
const BREAKER_BADGE = { closed: "ok", half_open: "warn", open: "bad" };
const WINDOWS = ["5m", "1h", "24h"];

const millis = (value) =>
  value == null ? "—" : formatNumber(value, { style: "unit", unit: "millisecond", maximumFractionDigits: 0 });
const percent = (value) => (value == null ? "—" : formatNumber(value, { style: "percent", maximumFractionDigits: 1 }));

const PERCENTILE_COLUMNS = [
  { label: "health.col.model", value: (m) => h("code", {}, m.model) },
  { label: "health.col.total", value: (m) => formatNumber(m.requests) },
  { label: "health.col.success", value: (m) => percent(m.success_rate) },
  { label: "health.col.p50", value: (m) => millis(m.latency_ms.p50) },
  { label: "health.col.p95", value: (m) => millis(m.latency_ms.p95) },
  { label: "health.col.p99", value: (m) => millis(m.latency_ms.p99) },
  { label: "health.col.ttft", value: (m) => millis(m.ttft_ms.p50) },
  { label: "health.col.rate", value: (m) => formatNumber(m.requests_per_s, { maximumFractionDigits: 2 }) },
];

function duration(seconds) {
  const value = Math.max(0, seconds ?? 0);
  const [amount, unit] =
    value < 60 ? [value, "second"] : value < 3600 ? [value / 60, "minute"] : value < 86_400 ? [value / 3600, "hour"] : [value / 86_400, "day"];
  return formatNumber(amount, { style: "unit", unit, unitDisplay: "short", maximumFractionDigits: unit === "second" ? 0 : 1 });
}

/** Whom a breaker, cooldown or limiter is about, in words. */
function target(item) {
  const p = { provider: item.provider ?? "?", model: item.model, account: item.account, combo: item.combo, step: item.step };
  let text;
  if (item.scope === "provider") text = t("health.target.provider", p);
  else if (item.scope === "model") text = t("health.target.model", p);
  else if (item.scope === "account") text = t(item.model ? "health.target.account-model" : "health.target.account", p);
  else if (item.scope === "combo") text = t(item.step == null ? "health.target.combo" : "health.target.combo-step", p);
  else text = item.key;
  return h("span", {}, text, h("br"), h("code", { class: "muted" }, item.key));
}

function limitsText(limits) {
  const parts = [];
  if (limits.rpm) parts.push(t("health.limits.rpm", { n: formatNumber(limits.rpm) }));
  if (limits.min_gap) parts.push(t("health.limits.gap", { time: duration(limits.min_gap) }));
  if (limits.max_concurrent) parts.push(t("health.limits.concurrent", { n: formatNumber(limits.max_concurrent) }));
  if (limits.max_queue) parts.push(t("health.limits.queue", { n: formatNumber(limits.max_queue) }));
  return parts.join(" · ") || "—";
}

function size(bytes) {
  const [amount, unit] = bytes < 1024 * 1024 ? [bytes / 1024, "kilobyte"] : [bytes / (1024 * 1024), "megabyte"];
  return formatNumber(amount, { style: "unit", unit, maximumFractionDigits: 1 });
}

/** The response cache: on or off, what it holds, how often it answered. */
function cacheCard(cache) {
  if (!cache) return h("div");
  return h("section", { class: "card", "aria-labelledby": "health-cache-title" },
    h("h2", { id: "health-cache-title" }, t("health.cache.title")),
    h("p", { class: "muted" }, t("health.cache.intro")),
    h("div", { class: "grid" },
      stat("health.cache.state", badge(t(cache.enabled ? "health.cache.on" : "health.cache.off"), cache.enabled ? "ok" : "warn")),
      stat("health.cache.entries", formatNumber(cache.entries)),
      stat("health.cache.size", t("health.cache.size-of", { used: size(cache.bytes), max: size(cache.max_bytes) })),
      stat("health.cache.hit-rate", percent(cache.hit_rate)),
      stat("health.cache.hits", t("health.cache.hits-of", { hits: formatNumber(cache.hits), misses: formatNumber(cache.misses) })),
      stat("health.cache.saved", formatMoney(cache.saved_cost))));
}

function stat(labelKey, value) {
  return h("div", { class: "card" }, h("div", { class: "muted" }, t(labelKey)), h("div", { class: "stat" }, value));
}

export default async function render(root, ctx) {
  const facts = h("div", { class: "grid" });
  const sections = h("div");
  const updated = h("p", { class: "muted", role: "status" });
  const error = h("p", { class: "error-text", role: "alert" });
  const windowChoice = select(WINDOWS.map((w) => [w, t(`health.window.${w}`)]), "1h");
  const percentiles = h("div");
  const percentileCard = h("section", { class: "card" }, h("h2", {}, t("health.percentiles.title")),
    h("p", { class: "muted" }, t("health.percentiles.intro")),
    h("div", { class: "form-grid" }, field("health.percentiles.window", windowChoice)), percentiles);

  async function reset(key, control) {
    const done = await busy(control, async () => {
      try {
        return await post("/api/health/reset", key ? { target: key } : {});
      } catch (failure) {
        // A cooldown that ended by itself since the last refresh: nothing to do.
        if (failure.status === 404 && key) return { reset: [] };
        throw failure;
      }
    });
    if (!done) return;
    toast(done.reset.length ? t("health.reset-done", { n: formatNumber(done.reset.length) }) : t("health.reset-gone"));
    await load();
  }

  function resetButton(item) {
    return button("health.reset", (event) => reset(item.key, event.currentTarget),
      { class: "secondary small", "aria-label": t("health.reset-label", { key: item.key }) });
  }

  function section(titleKey, introKey, columns, rows, emptyKey) {
    return h("section", { class: "card" }, h("h2", {}, t(titleKey)), h("p", { class: "muted" }, t(introKey)),
      table(columns, rows, { empty: emptyKey }));
  }

  function drawPercentiles(telemetry) {
    const shown = telemetry.windows[windowChoice.value];
    clear(percentiles, table(PERCENTILE_COLUMNS, shown ? shown.models : [], { empty: "health.percentiles.empty" }));
  }

  function draw(health, status) {
    clear(facts,
      stat("health.status", badge(t("health.ok"), "ok")),
      stat("health.version", status.version),
      stat("health.uptime", duration(status.uptime_s)),
      stat("health.memory", formatNumber(status.memory_rss_mb, { style: "unit", unit: "megabyte", maximumFractionDigits: 0 })),
      stat("health.connections", formatNumber(status.connections)),
      stat("health.active", formatNumber(status.active_requests)),
      stat("health.revision", formatNumber(status.config_revision)),
      stat("health.queue", formatNumber(health.queues?.request_log ?? 0)));
    const latency = Object.entries(health.health || {}).map(([key, snap]) => ({ key, ...snap }));
    clear(sections,
      cacheCard(health.cache),
      section("health.breakers.title", "health.breakers.intro", [
        { label: "health.col.target", value: target },
        { label: "health.col.state", value: (b) => badge(t(`health.breaker.${b.state}`), BREAKER_BADGE[b.state]) },
        { label: "health.col.failures", value: (b) => formatNumber(b.recent_failures) },
        { label: "health.col.retry-in", value: (b) => (b.state === "closed" ? "—" : duration(b.retry_in)) },
        { label: "health.col.actions", value: resetButton },
      ], health.breakers, "health.breakers.empty"),
      section("health.cooldowns.title", "health.cooldowns.intro", [
        { label: "health.col.target", value: target },
        { label: "health.col.remaining", value: (c) => duration(c.remaining) },
        { label: "health.col.strikes", value: (c) => formatNumber(c.strikes) },
        { label: "health.col.reason", value: (c) => c.reason || "—" },
        { label: "health.col.actions", value: resetButton },
      ], health.cooldowns, "health.cooldowns.empty"),
      section("health.limiters.title", "health.limiters.intro", [
        { label: "health.col.target", value: target },
        { label: "health.col.limits", value: (l) => limitsText(l.limits) },
        { label: "health.col.active", value: (l) => formatNumber(l.active) },
        { label: "health.col.queued", value: (l) => formatNumber(l.queued) },
        { label: "health.col.held", value: (l) => (l.held_for > 0 ? duration(l.held_for) : "—") },
        { label: "health.col.actions", value: resetButton },
      ], health.limiters, "health.limiters.empty"),
      h("section", { class: "card" }, h("h2", {}, t("health.latency.title")),
        h("p", { class: "muted" }, t("health.latency.intro")),
        table([
          { label: "health.col.key", value: (s) => h("code", {}, s.key) },
          { label: "health.col.latency", value: (s) => (s.latency == null ? "—" : formatNumber(s.latency * 1000, { style: "unit", unit: "millisecond", maximumFractionDigits: 0 })) },
          { label: "health.col.success", value: (s) => formatNumber(s.success_ratio, { style: "percent", maximumFractionDigits: 1 }) },
          { label: "health.col.in-flight", value: (s) => formatNumber(s.in_flight) },
          { label: "health.col.total", value: (s) => formatNumber(s.total) },
        ], latency, { empty: "health.latency.empty" })));
    updated.textContent = t("health.updated", { time: new Date().toLocaleTimeString(document.documentElement.lang) });
  }

  async function load() {
    const [health, status, telemetry] = await Promise.all([
      get("/api/health"),
      get("/api/status"),
      get(`/api/telemetry${query({ window: windowChoice.value })}`),
    ]);
    if (ctx.signal.aborted) return;
    error.textContent = "";
    draw(health, status);
    drawPercentiles(telemetry);
  }

  windowChoice.addEventListener("change", () => busy(null, load, error));

  const refresh = button("common.refresh", (event) => busy(event.currentTarget, load, error), { class: "secondary" });
  const resetAll = button("health.reset-all", async (event) => {
    const control = event.currentTarget;
    if (await confirmDialog(t("health.reset-all.confirm"), "health.reset-all")) await reset(null, control);
  }, { class: "danger" });
  root.append(pageHead("health.title", refresh, resetAll), updated, error, facts, sections, percentileCard);
  await load();

  // Refresh every 10 seconds while the page is open; not while the tab is
  // hidden, a question is asked or the keyboard is on a Reset button (the
  // redraw would take the focus away). Leaving the page stops it.
  const timer = setInterval(() => {
    if (document.hidden || document.querySelector("dialog[open]") || sections.contains(document.activeElement)) return;
    load().catch((failure) => {
      if (!ctx.signal.aborted) error.textContent = failure.message;
    });
  }, REFRESH_MS);
  ctx.signal.addEventListener("abort", () => clearInterval(timer));
}
