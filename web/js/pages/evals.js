// Evals: run a suite of prompts (the built-in golden one or a saved one)
// against several models through the gateway, then compare them side by
// side: each case's verdict per model, pass rate, median latency and cost.
//   #/evals              suites, a run form, recent runs
//   #/evals/runs/ID      one run, refreshed while it goes
import { del, get, post } from "../api.js";
import { badge, busy, button, clear, confirmDialog, field, h, pageHead, select, table, toast } from "../dom.js";
import { formatMoney, formatNumber, formatTime, t } from "../i18n.js";

const POLL_MS = 1000;
const EXAMPLE = [
  { id: "capital", prompt: "What is the capital of France? One word.",
    check: { kind: "contains", value: "paris", ignore_case: true } },
  { id: "sum", prompt: "What is 12 + 30? Reply with the number only.",
    check: { kind: "rule", value: "number(output) == 42" } },
];

export default async function render(root, ctx) {
  if (ctx.params[0] === "runs" && /^\d+$/.test(ctx.params[1] || "")) return runView(root, ctx, ctx.params[1]);
  const runs = h("div");
  const suites = h("div");
  const form = h("div");
  root.append(
    pageHead("evals.title", button("common.refresh", () => ctx.refresh(), { class: "secondary" })),
    h("p", { class: "muted" }, t("evals.intro")),
    form, runs, suites,
  );
  const [listed, recent] = await busy(null, () => Promise.all([get("/api/evals"), get("/api/evals/runs")])) || [];
  if (!listed || ctx.signal.aborted) return;
  clear(form, runForm(listed.suites, ctx));
  clear(runs, runsCard(recent.runs, ctx));
  clear(suites, suitesCard(listed.suites, ctx));
}

function runForm(suites, ctx) {
  const suite = select(suites.map((s) => [s.name, s.builtin ? t("evals.builtin-name", { name: s.name }) : s.name]), "golden");
  const models = h("input", { type: "text", autocomplete: "off", spellcheck: false, dir: "ltr" });
  const parallel = h("input", { type: "number", min: 1, max: 16, value: 4 });
  const error = h("p", { class: "error-text", role: "alert" });
  const start = button("evals.run", async () => {
    const names = models.value.split(",").map((m) => m.trim()).filter(Boolean);
    const body = { models: names, parallel: Number(parallel.value) || 4 };
    const started = await busy(start, () => post(`/api/evals/${encodeURIComponent(suite.value)}/runs`, body), error);
    if (started) ctx.navigate(`#/evals/runs/${started.run}`);
  });
  models.addEventListener("keydown", (event) => {
    if (event.key === "Enter") start.click();
  });
  return h("section", { class: "card" },
    h("h2", {}, t("evals.run-title")),
    h("div", { class: "form-grid" },
      field("evals.suite", suite),
      field("evals.models", models, "evals.models-hint"),
      field("evals.parallel", parallel, "evals.parallel-hint")),
    h("div", { class: "row" }, start), error);
}

function statusBadge(status) {
  const kind = { done: "ok", running: "warn", interrupted: "bad", failed: "bad" }[status] || "";
  return badge(t(`evals.status.${status}`), kind);
}

function runsCard(runs, ctx) {
  const columns = [
    { label: "evals.col.run", value: (r) => `#${r.id}` },
    { label: "evals.col.suite", value: (r) => r.suite },
    { label: "evals.col.models", value: (r) => h("span", { dir: "ltr" }, r.models.join(", ")) },
    { label: "evals.col.status", value: (r) => statusBadge(r.status) },
    { label: "evals.col.progress", value: (r) => t("evals.progress", { done: r.done, total: r.total }) },
    { label: "evals.col.passed", value: (r) => formatNumber(r.passed) },
    { label: "evals.col.started", value: (r) => formatTime(r.started_at) },
  ];
  return h("section", { class: "card" }, h("h2", {}, t("evals.runs-title")),
    table(columns, runs, { onRowClick: (r) => ctx.navigate(`#/evals/runs/${r.id}`), empty: "evals.no-runs" }));
}

function suitesCard(suites, ctx) {
  const columns = [
    { label: "evals.col.suite", value: (s) => h("span", {}, s.name, " ", s.builtin ? badge(t("evals.builtin")) : null) },
    { label: "evals.col.cases", value: (s) => formatNumber(s.cases.length) },
    { label: "evals.col.description", value: (s) => s.description || "—" },
    { label: "evals.col.actions", value: (s) => h("div", { class: "row" },
      button("evals.edit", () => editor.fill(s), { class: "secondary small", "aria-label": t("evals.edit-named", { name: s.name }) }),
      s.builtin ? null : button("evals.delete", () => remove(s.name, ctx),
        { class: "danger small", "aria-label": t("evals.delete-named", { name: s.name }) })) },
  ];
  const editor = suiteEditor(ctx);
  return h("section", { class: "card" }, h("h2", {}, t("evals.suites-title")), table(columns, suites), editor.element);
}

async function remove(name, ctx) {
  if (!(await confirmDialog(t("evals.delete-confirm", { name }), "evals.delete"))) return;
  if (await busy(null, () => del(`/api/evals/${encodeURIComponent(name)}`)) === undefined) return;
  toast(t("evals.deleted", { name }), "ok");
  ctx.refresh();
}

function suiteEditor(ctx) {
  const name = h("input", { type: "text", autocomplete: "off", spellcheck: false, dir: "ltr" });
  const description = h("input", { type: "text" });
  const cases = h("textarea", { rows: 12, spellcheck: false, dir: "ltr", class: "evals-cases" });
  cases.value = JSON.stringify(EXAMPLE, null, 2);
  const error = h("p", { class: "error-text", role: "alert" });
  const save = button("evals.save", async () => {
    let parsed;
    try {
      parsed = JSON.parse(cases.value);
    } catch {
      error.textContent = t("evals.cases-not-json");
      return;
    }
    const body = { name: name.value.trim(), description: description.value, cases: parsed };
    const saved = await busy(save, () => post("/api/evals", body), error);
    if (!saved) return;
    toast(t("evals.saved", { name: saved.suite.name }), "ok");
    ctx.refresh();
  });
  const details = h("details", { class: "evals-editor" },
    h("summary", {}, t("evals.new-suite")),
    h("p", { class: "muted" }, t("evals.matchers-help")),
    h("div", { class: "form-grid" }, field("evals.name", name, "evals.name-hint"), field("evals.description", description)),
    field("evals.cases", cases, "evals.cases-hint"),
    h("div", { class: "row" }, save), error);
  return {
    element: details,
    fill(suite) {
      // The built-in suite is a starting point: it is saved under another name.
      name.value = suite.builtin ? `${suite.name}-copy` : suite.name;
      description.value = suite.description || "";
      cases.value = JSON.stringify(suite.cases, null, 2);
      details.open = true;
      name.focus();
    },
  };
}

// ---------------------------------------------------------------- one run

async function runView(root, ctx, id) {
  const body = h("div", { "aria-live": "polite" });
  root.append(
    pageHead("evals.run-heading", button("evals.back", () => ctx.navigate("#/evals"), { class: "secondary" })),
    body,
  );
  for (;;) {
    const run = await busy(null, () => get(`/api/evals/runs/${id}`));
    if (!run || ctx.signal.aborted) return;
    clear(body, ...runReport(run));
    if (run.status !== "running") return;
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, POLL_MS);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    if (ctx.signal.aborted) return;
  }
}

function verdict(result) {
  if (!result) return h("span", { class: "muted" }, "…");
  if (result.passed) return badge(t("evals.pass"), "ok");
  return badge(t(result.error ? "evals.error" : "evals.fail"), "bad");
}

function runReport(run) {
  const head = h("div", { class: "card" },
    h("p", {}, t("evals.run-line", { id: run.id, suite: run.suite }), " ", statusBadge(run.status)),
    h("p", { class: "muted" }, t("evals.progress", { done: run.done, total: run.total }), " · ",
      formatTime(run.started_at)));
  const results = new Map(run.results.map((r) => [`${r.model}\u0000${r.case}`, r]));
  const cases = [...new Set(run.results.map((r) => r.case))];
  const summary = new Map(run.summary.map((s) => [s.model, s]));
  const th = (text, attrs = {}) => h("th", { scope: "col", ...attrs }, text);
  const modelHeads = run.models.map((m) => th(h("span", { dir: "ltr" }, m)));
  const rows = cases.map((c) => h("tr", {}, h("th", { scope: "row" }, c),
    run.models.map((m) => h("td", {}, verdict(results.get(`${m}\u0000${c}`))))));
  const figure = (label, value) => h("tr", { class: "evals-figure" }, h("th", { scope: "row" }, t(label)),
    run.models.map((m) => h("td", {}, value(summary.get(m) || {}))));
  const rate = (s) => (s.pass_rate == null ? "—" : t("evals.rate", {
    passed: s.passed, done: s.done, percent: formatNumber(s.pass_rate * 100, { maximumFractionDigits: 0 }) }));
  const compare = h("section", { class: "card" }, h("h2", {}, t("evals.compare-title")),
    h("div", { class: "table-wrap" }, h("table", { class: "evals-compare" },
      h("thead", {}, h("tr", {}, th(t("evals.col.case")), modelHeads)),
      h("tbody", {}, rows,
        figure("evals.pass-rate", rate),
        figure("evals.median-latency", (s) => (s.median_latency_ms == null ? "—" : t("evals.ms", { n: formatNumber(s.median_latency_ms) }))),
        figure("evals.cost", (s) => formatMoney(s.cost))))));
  const columns = [
    { label: "evals.col.case", value: (r) => r.case },
    { label: "evals.col.model", value: (r) => h("span", { dir: "ltr" }, r.model) },
    { label: "evals.col.verdict", value: verdict },
    { label: "evals.col.latency", value: (r) => (r.latency_ms == null ? "—" : t("evals.ms", { n: formatNumber(r.latency_ms) })) },
    { label: "evals.col.cost", value: (r) => formatMoney(r.cost) },
    { label: "evals.col.answer", value: (r) => h("div", { class: "evals-answer" },
      r.output ? h("pre", { dir: "auto" }, r.output) : null,
      r.error ? h("p", { class: "error-text" }, r.error) : null) },
  ];
  const answers = h("section", { class: "card" }, h("h2", {}, t("evals.answers-title")),
    table(columns, run.results, { empty: "evals.no-results" }));
  return [head, compare, answers];
}
