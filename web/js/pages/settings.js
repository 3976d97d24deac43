// Settings: the global settings (the names `omniroute config` uses), the
// admin password, spending budgets, backups, export and the dashboard's language.
import { del, get, patch, post, put, setCsrf } from "../api.js";
import { badge, busy, button, clear, confirmDialog, field, h, pageHead, select, table, tabs, toast, uid } from "../dom.js";
import { LANGUAGES, formatMoney, formatNumber, formatTime, language, t } from "../i18n.js";

const STRATEGIES = ["fill-first", "round-robin", "p2c", "random", "least-used", "cost-optimized", "weighted"];
const FLAG = [true, false];

// Each section's settings: [name, kind]; kind is int, number, text, long
// (a text area), list (comma-separated), or the list of allowed values.
const SECTIONS = [
  { id: "resilience", label: "settings.tab.resilience", intro: "settings.resilience.intro", keys: [
    ["breaker.failure-threshold", "int"], ["breaker.window", "number"], ["breaker.cooldown", "number"],
    ["cooldown.base", "number"], ["cooldown.factor", "number"], ["cooldown.cap", "number"],
    ["fallback.max-attempts", "int"], ["fallback.max-seconds", "number"], ["account-strategy", STRATEGIES]] },
  { id: "limits", label: "settings.tab.limits", intro: "settings.limits.intro", keys: [["ip-rpm", "int"]] },
  { id: "proxies", label: "settings.tab.proxies", intro: "settings.proxies.intro", keys: [
    ["proxy", "text"], ["trusted-proxies", "list"], ["allow-link-local-base-urls", FLAG]] },
  { id: "security", label: "settings.tab.security", intro: "settings.security.intro", keys: [
    ["admin-allow", "list"], ["admin-deny", "list"], ["client-allow", "list"], ["client-deny", "list"],
    ["public-hosts", "list"], ["injection-guard", ["off", "log", "block"]], ["audit-retention-days", "int"]] },
  { id: "requests", label: "settings.tab.requests", intro: "settings.requests.intro", keys: [["system-prompt", "long"]] },
  { id: "budgets", label: "settings.tab.budgets" },
  { id: "backups", label: "settings.tab.backups", intro: "settings.backups.intro", keys: [
    ["backup-retention", "int"], ["backup-interval-hours", "number"]] },
  { id: "export", label: "settings.tab.export" },
  { id: "language", label: "settings.tab.language" },
];

function shown(value) {
  if (value === null || value === undefined || (Array.isArray(value) && !value.length)) return "";
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

function optionLabel(value) {
  if (value === true) return t("settings.on");
  if (value === false) return t("settings.off");
  return String(value);
}

/** The control for one setting; "" always means "the default". */
function control(kind, value) {
  if (Array.isArray(kind)) {
    const options = [["", t("settings.default-option")], ...kind.map((v) => [String(v), optionLabel(v)])];
    return select(options, shown(value));
  }
  if (kind === "long") return h("textarea", { rows: "5", dir: "auto" }, shown(value));
  if (kind === "int" || kind === "number") {
    return h("input", { type: "number", step: kind === "int" ? "1" : "any", min: "0", value: shown(value) });
  }
  // Addresses, host names and URLs read left to right in every language.
  return h("input", { type: "text", dir: "ltr", spellcheck: "false", autocomplete: "off", value: shown(value) });
}

/** The text of a control as JSON for PATCH /api/settings ("" -> null: the default). */
function parsed(kind, text) {
  const value = text.trim();
  if (value === "") return null;
  if (kind === "int" || kind === "number") return Number(value);
  if (kind === "list") return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(kind)) return kind.find((v) => String(v) === value) ?? value;
  return kind === "long" ? text : value;
}

function defaultText(value) {
  if (value === null || value === undefined || (Array.isArray(value) && !value.length)) return t("settings.default.none");
  return optionLabel(Array.isArray(value) ? value.join(", ") : value);
}

function sizeText(bytes) {
  const mb = bytes >= 1e6;
  return formatNumber(mb ? bytes / 1e6 : bytes / 1e3, { style: "unit", unit: mb ? "megabyte" : "kilobyte", maximumFractionDigits: 1 });
}

export default async function render(root, ctx) {
  let settings = (await get("/api/settings")).settings;
  if (ctx.signal.aborted) return;
  const panels = {};
  const forms = {};

  /** The form of one section's settings; Save sends only what changed. */
  function settingsForm(section) {
    const inputs = [];
    const error = h("p", { class: "error-text", role: "alert" });
    const save = h("button", { type: "submit" }, t("common.save"));
    const grid = h("div", { class: "form-grid" });
    for (const [name, kind] of section.keys) {
      const { value, default: fallback } = settings[name];
      const input = control(kind, value);
      input.name = name;
      const wrap = field(`settings.key.${name}`, input);
      const hint = h("div", { class: "hint", id: uid("hint") },
        t(`settings.about.${name}`), " ", t("settings.default", { value: defaultText(fallback) }), " ",
        h("code", {}, name));
      input.setAttribute("aria-describedby", hint.id);
      if (kind !== "long" && !Array.isArray(kind) && fallback !== null) input.placeholder = shown(fallback);
      wrap.append(hint);
      grid.append(wrap);
      inputs.push({ name, kind, input, initial: input.value });
    }
    const form = h("form", { class: "settings-form" }, grid, error, h("div", { class: "row" }, save));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      for (const item of inputs) item.input.removeAttribute("aria-invalid");
      const changes = {};
      for (const item of inputs) {
        if (item.input.value !== item.initial) changes[item.name] = parsed(item.kind, item.input.value);
      }
      if (!Object.keys(changes).length) {
        toast(t("settings.unchanged"));
        return;
      }
      const answer = await busy(save, () => patch("/api/settings", changes), error);
      if (answer) {
        settings = answer.settings;
        toast(t("common.saved"));
        redraw(section.id);
      } else {
        // The server names the refused setting first: 'breaker.window': …
        const named = /^'([\w.-]+)'/.exec(error.textContent);
        const bad = named && inputs.find((item) => item.name === named[1]);
        if (bad) {
          bad.input.setAttribute("aria-invalid", "true");
          bad.input.focus();
        }
      }
    });
    return form;
  }

  function redraw(id) {
    const fresh = settingsForm(SECTIONS.find((s) => s.id === id));
    forms[id].replaceWith(fresh);
    forms[id] = fresh;
  }

  async function reloadSettings() {
    settings = (await get("/api/settings")).settings;
    for (const section of SECTIONS) if (section.keys) redraw(section.id);
  }

  // ---- security: the admin password
  function passwordForm() {
    const current = h("input", { type: "password", autocomplete: "current-password", required: true });
    const fresh = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: "12" });
    const again = h("input", { type: "password", autocomplete: "new-password", required: true });
    const error = h("p", { class: "error-text", role: "alert" });
    const submit = h("button", { type: "submit" }, t("settings.password.submit"));
    const form = h("form", { class: "card", "aria-labelledby": "password-title" },
      h("h2", { id: "password-title" }, t("settings.password.title")),
      h("div", { class: "form-grid" },
        field("settings.password.current", current),
        field("settings.password.new", fresh, "settings.password.hint"),
        field("settings.password.again", again)),
      error, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (fresh.value !== again.value) {
        error.textContent = t("settings.password.mismatch");
        return;
      }
      // A wrong current password is a 401 that must not end this session.
      const answer = await busy(submit,
        () => post("/api/auth/password", { current: current.value, new: fresh.value }, { quiet401: true }), error);
      if (answer) {
        setCsrf(answer.csrf);
        form.reset();
        toast(t("settings.password.changed"));
      }
    });
    return form;
  }

  // ---- backups
  const backupList = h("div");
  const backupStatus = h("p", { role: "status" });
  async function loadBackups() {
    const { backups } = await get("/api/backups");
    if (ctx.signal.aborted) return;
    clear(backupList, table([
      { label: "settings.backups.col.name", value: (b) => h("code", {}, b.name) },
      { label: "settings.backups.col.kind", value: (b) => badge(t(`settings.backups.kind.${b.kind}`)) },
      { label: "settings.backups.col.size", value: (b) => sizeText(b.size) },
      { label: "settings.backups.col.created", value: (b) => formatTime(b.created_at) },
      { label: "settings.backups.col.actions", value: backupActions },
    ], backups, { empty: "settings.backups.empty" }));
  }
  function backupActions(backup) {
    // A plain link: a GET needs no CSRF token, the session cookie suffices,
    // and the browser saves the file under the name the server gives.
    const link = h("a", { class: "button secondary small", href: `/api/backups/${encodeURIComponent(backup.name)}`,
      download: backup.name, "aria-label": t("settings.backups.download-label", { name: backup.name }) },
    t("settings.backups.download"));
    const restore = button("settings.backups.restore", async (event) => {
      const control = event.currentTarget;
      if (!(await confirmDialog(t("settings.backups.restore-confirm", { name: backup.name }), "settings.backups.restore"))) return;
      const result = await busy(control, () => post(`/api/backups/${encodeURIComponent(backup.name)}/restore`));
      if (!result) return;
      backupStatus.textContent = t("settings.backups.restored", { name: result.restored, previous: result.previous });
      toast(t("settings.backups.restored-short"));
      await Promise.all([loadBackups(), reloadSettings()]);
    }, { class: "danger small", "aria-label": t("settings.backups.restore-label", { name: backup.name }) });
    return h("div", { class: "row" }, link, restore);
  }
  const createBackup = button("settings.backups.create", async (event) => {
    const made = await busy(event.currentTarget, () => post("/api/backups"));
    if (!made) return;
    backupStatus.textContent = t("settings.backups.created", { name: made.backup.name });
    await loadBackups();
  });

  // ---- budgets: spending ceilings per provider, client key or combo step
  const budgetList = h("div");
  async function loadBudgets() {
    const { budgets } = await get("/api/budgets");
    if (ctx.signal.aborted) return;
    const limit = (value) => (value == null ? t("settings.budgets.none") : formatMoney(value));
    clear(budgetList, table([
      { label: "settings.budgets.scope", value: (b) => h("code", {}, b.scope) },
      { label: "settings.budgets.daily", value: (b) => limit(b.daily) },
      { label: "settings.budgets.monthly", value: (b) => limit(b.monthly) },
      { label: "settings.budgets.spent",
        value: (b) => `${formatMoney(b.spent.daily)} / ${formatMoney(b.spent.monthly)}` },
      { label: "settings.backups.col.actions", value: (b) => button("settings.budgets.remove", async (event) => {
        if (await busy(event.currentTarget, () => del(`/api/budgets/${encodeURIComponent(b.scope)}`))) {
          toast(t("common.saved"));
          await loadBudgets();
        }
      }, { class: "danger small", "aria-label": t("settings.budgets.remove-label", { scope: b.scope }) }) },
    ], budgets, { empty: "settings.budgets.empty" }));
  }
  function budgetForm() {
    const scope = h("input", { required: true, placeholder: "provider:openai", autocomplete: "off" });
    const daily = h("input", { type: "number", min: "0", step: "any", inputmode: "decimal" });
    const monthly = h("input", { type: "number", min: "0", step: "any", inputmode: "decimal" });
    const error = h("p", { class: "error-text", role: "alert" });
    const save = h("button", { type: "submit" }, t("settings.budgets.save"));
    const form = h("form", { class: "settings-form" },
      h("div", { class: "form-grid" },
        field("settings.budgets.scope", scope, "settings.budgets.scope-hint"),
        field("settings.budgets.daily", daily), field("settings.budgets.monthly", monthly)),
      error, h("div", { class: "row" }, save));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      if (daily.value !== "") body.daily = Number(daily.value);
      if (monthly.value !== "") body.monthly = Number(monthly.value);
      const path = `/api/budgets/${encodeURIComponent(scope.value.trim())}`;
      if (await busy(save, () => put(path, body), error)) {
        form.reset();
        toast(t("common.saved"));
        await loadBudgets();
      }
    });
    return form;
  }

  // ---- language: the same choice as the top bar's; going through the top
  // bar's own control keeps both in step and redraws the menu and this page.
  function languagePanel() {
    const choice = select(LANGUAGES.map((l) => [l.code, l.name]), language());
    choice.addEventListener("change", () => {
      const top = document.getElementById("lang");
      top.value = choice.value;
      top.dispatchEvent(new Event("change"));
    });
    return h("section", { class: "card" }, h("h2", {}, t("settings.language.title")),
      field("settings.language.label", choice, "settings.language.hint"));
  }

  // ---- the panels
  for (const section of SECTIONS) {
    const panel = h("div", { role: "tabpanel" });
    if (section.keys) {
      forms[section.id] = settingsForm(section);
      panel.append(h("section", { class: "card" }, h("h2", {}, t(section.label)),
        h("p", { class: "muted" }, t(section.intro)), forms[section.id]));
    }
    panels[section.id] = panel;
  }
  panels.limits.append(h("p", { class: "muted" }, t("settings.limits.elsewhere")));
  panels.security.prepend(passwordForm());
  panels.backups.append(h("section", { class: "card", "aria-labelledby": "backups-title" },
    h("div", { class: "page-head" }, h("h2", { id: "backups-title" }, t("settings.backups.title")), createBackup),
    backupStatus, backupList));
  panels.budgets.append(h("section", { class: "card" },
    h("h2", {}, t("settings.tab.budgets")), h("p", { class: "muted" }, t("settings.budgets.intro")),
    budgetForm(), budgetList));
  panels.export.append(h("section", { class: "card" },
    h("h2", {}, t("settings.export.title")),
    h("p", {}, t("settings.export.intro")),
    h("a", { class: "button", href: "/api/export?secrets=0", download: "" }, t("settings.export.download")),
    h("p", { class: "muted" }, t("settings.export.secrets"), " ", h("code", {}, "omniroute export --secrets"))));
  panels.language.append(languagePanel());

  const body = h("div");
  const known = SECTIONS.some((s) => s.id === ctx.params[0]);
  const bar = tabs(SECTIONS.map((s) => ({ id: s.id, label: s.label })), (id) => {
    clear(body, panels[id]);
    // Remember the tab in the address without a page reload.
    history.replaceState(null, "", `#/settings/${id}`);
  }, known ? ctx.params[0] : "resilience");
  root.append(pageHead("settings.title"), bar, body);
  await Promise.all([loadBackups(), loadBudgets()]);
}
