// Usage & cost: what went through the gateway in a period, summed up by
// provider, model or client key: totals, requests per day stacked by the
// group, a bar per group, and the numbers as a table.
import { get, query } from "../api.js";
import { busy, button, clear, field, h, pageHead, select, table } from "../dom.js";
import { language, formatMoney, formatNumber, t } from "../i18n.js";
import { OTHER_COLOR, PALETTE, horizontalBars, legend, stackedColumns } from "../charts.js";

const GROUPS = ["provider", "model", "key"];
const PERIODS = ["24h", "7d", "30d"];
const DAY = 86_400;

export default async function render(root, ctx) {
  const period = select(PERIODS.map((p) => [p, t(`usage.period.${p}`)]), "7d");
  const group = select(GROUPS.map((g) => [g, t(`usage.group.${g}`)]), "provider");
  const body = h("div", { "aria-live": "polite" });
  let generation = 0;

  async function load() {
    generation += 1;
    const mine = generation;
    const since = period.value;
    const [summed, daily] = await busy(null, () => Promise.all([
      get(`/api/usage${query({ group: group.value, since })}`),
      get(`/api/usage${query({ group: "day", series: group.value, since })}`),
    ])) || [];
    if (!summed || mine !== generation || ctx.signal.aborted) return;
    // Draw at the width the card offers, so chart text stays readable on a phone.
    const width = Math.round(Math.min(760, Math.max(260, body.clientWidth - 34)));
    clear(body, ...report(summed, daily, width));
  }

  for (const control of [period, group]) control.addEventListener("change", load);
  root.append(
    pageHead("usage.title", button("common.refresh", load, { class: "secondary" })),
    h("div", { class: "card" }, h("div", { class: "form-grid" },
      field("usage.period", period), field("usage.group", group))),
    body,
  );
  await load();
}

/** How a group's name reads; a row without one (no provider, no key) says so. */
function nameOf(group, name, keyId) {
  if (name != null && name !== "") return String(name);
  if (group === "key") return keyId == null ? t("usage.no-key") : t("usage.key-id", { id: keyId });
  return t(`usage.no-${group}`);
}

function totalsCard(totals) {
  const stats = [
    ["usage.requests", formatNumber(totals.requests)],
    ["usage.errors", formatNumber(totals.errors)],
    ["usage.input-tokens", formatNumber(totals.input_tokens)],
    ["usage.output-tokens", formatNumber(totals.output_tokens)],
    ["usage.cost", formatMoney(totals.cost)],
  ];
  return h("div", { class: "grid usage-totals" }, stats.map(([label, value]) =>
    h("div", { class: "card" }, h("div", { class: "muted" }, t(label)), h("div", { class: "stat" }, value))));
}

/** The UTC dates from ``since`` to ``until`` (the period's days, even empty ones). */
function days(since, until) {
  const shown = new Intl.DateTimeFormat(language(), { month: "short", day: "numeric", timeZone: "UTC" });
  const out = [];
  for (let day = Math.floor(since / DAY) * DAY; day < until; day += DAY) {
    const date = new Date(day * 1000);
    out.push({ key: date.toISOString().slice(0, 10), label: shown.format(date) });
  }
  return out;
}

function report(summed, daily, width) {
  // One string per title and group (not a slot for the group's name), so
  // each language can put the group word in the form its sentence needs.
  const title = (which) => t(`${which}.${summed.group}`);
  const parts = [totalsCard(summed.totals)];
  if (!summed.rows.length) {
    parts.push(h("p", { class: "card muted" }, t("usage.empty")));
    return parts;
  }
  // The busiest groups get a colour each; the rest share one as "other".
  const names = summed.rows.map((row) => nameOf(summed.group, row.name, row.key_id));
  const colored = new Map(names.slice(0, PALETTE.length).map((name, i) => [name, PALETTE[i]]));
  const colorOf = (name) => colored.get(name) || OTHER_COLOR;
  const other = t("usage.other");
  const seriesName = (name) => (colored.has(name) ? name : other);
  const legendItems = [...colored].map(([name, color]) => ({ name, color }));
  if (names.length > colored.size) legendItems.push({ name: other, color: OTHER_COLOR });

  const stacks = new Map(legendItems.map((item) => [item.name, { ...item, values: {} }]));
  for (const row of daily.rows) {
    const name = seriesName(nameOf(summed.group, row.series, row.key_id));
    const values = stacks.get(name)?.values;
    if (values) values[row.name] = (values[row.name] || 0) + row.requests;
  }
  const requests = (n) => t("usage.n-requests", { n: formatNumber(n) });
  parts.push(h("section", { class: "card", "aria-labelledby": "usage-per-day" },
    h("h2", { id: "usage-per-day" }, title("usage.chart.per-day")),
    legend(legendItems),
    stackedColumns({
      name: title("usage.chart.per-day-label"),
      categories: days(daily.since, daily.until),
      series: [...stacks.values()],
      tip: (name, day, value) => `${name} · ${day}: ${requests(value)}`,
      format: (n) => formatNumber(n, { notation: "compact" }),
      width,
    })));
  parts.push(h("section", { class: "card", "aria-labelledby": "usage-per-group" },
    h("h2", { id: "usage-per-group" }, title("usage.chart.per-group")),
    horizontalBars({
      name: title("usage.chart.per-group-label"),
      items: summed.rows.map((row, i) => ({ name: names[i], value: row.requests, color: colorOf(names[i]) })),
      format: formatNumber,
      width,
    })));
  const columns = [
    { label: "usage.col.name", value: (row) => nameOf(summed.group, row.name, row.key_id) },
    { label: "usage.requests", value: (row) => formatNumber(row.requests) },
    { label: "usage.errors", value: (row) => formatNumber(row.errors) },
    { label: "usage.input-tokens", value: (row) => formatNumber(row.input_tokens) },
    { label: "usage.output-tokens", value: (row) => formatNumber(row.output_tokens) },
    { label: "usage.col.latency", value: (row) => (row.avg_latency_ms == null ? "—"
      : t("usage.ms", { n: formatNumber(row.avg_latency_ms, { maximumFractionDigits: 0 }) })) },
    { label: "usage.cost", value: (row) => formatMoney(row.cost) },
  ];
  parts.push(h("section", { class: "card", "aria-labelledby": "usage-table" },
    h("h2", { id: "usage-table" }, title("usage.table")),
    table(columns, summed.rows)));
  return parts;
}
