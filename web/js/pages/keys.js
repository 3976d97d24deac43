// Client keys: the keys applications use against the gateway, each with its
// scope (models, providers, expiry, rate limits). A new key is shown once.
import { del, get, patch, post, query } from "../api.js";
import { badge, busy, button, clear, confirmDialog, copyBox, field, h, pageHead, table, toast } from "../dom.js";
import { formatNumber, formatTime, t } from "../i18n.js";

const STATE_BADGE = { active: "ok", expired: "warn", revoked: "bad" };

/** "a, b\nc" -> ["a", "b", "c"] */
function names(text) {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

function whole(text) {
  const value = text.trim();
  return value === "" ? null : Number(value);
}

function numberInput(value) {
  return h("input", { type: "number", min: "1", step: "1", inputmode: "numeric", value: value ?? "" });
}

/** The scope fields, for the create form and the edit dialog alike. */
function scopeFields(key = {}) {
  const controls = {
    name: h("input", { type: "text", maxlength: "100", autocomplete: "off", value: key.name ?? "" }),
    models: h("input", { type: "text", autocomplete: "off", spellcheck: "false", value: (key.models || []).join(", ") }),
    providers: h("input", { type: "text", autocomplete: "off", spellcheck: "false", value: (key.providers || []).join(", ") }),
    expires: h("input", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: "30d" }),
    rpm: numberInput(key.rpm),
    max_concurrent: numberInput(key.max_concurrent),
  };
  const fields = h("div", { class: "form-grid" },
    field("keys.field.name", controls.name),
    field("keys.field.models", controls.models, "keys.hint.models"),
    field("keys.field.providers", controls.providers, "keys.hint.providers"),
    field("keys.field.expires", controls.expires, key.id ? "keys.hint.expires-edit" : "keys.hint.expires"),
    field("keys.field.rpm", controls.rpm, "keys.hint.rpm"),
    field("keys.field.max-concurrent", controls.max_concurrent, "keys.hint.max-concurrent"));
  return { controls, fields };
}

/** What the create form asks for: empty fields are left out. */
function created(c) {
  const body = {};
  if (c.name.value.trim()) body.name = c.name.value.trim();
  if (names(c.models.value).length) body.models = names(c.models.value);
  if (names(c.providers.value).length) body.providers = names(c.providers.value);
  if (c.expires.value.trim()) body.expires = c.expires.value.trim();
  if (whole(c.rpm.value) !== null) body.rpm = whole(c.rpm.value);
  if (whole(c.max_concurrent.value) !== null) body.max_concurrent = whole(c.max_concurrent.value);
  return body;
}

/** What the edit dialog changed: only those fields; a cleared limit is null. */
function changed(c, key) {
  const body = {};
  const name = c.name.value.trim() || null;
  if (name !== (key.name ?? null)) body.name = name;
  for (const list of ["models", "providers"]) {
    const now = names(c[list].value);
    if (now.join("\n") !== key[list].join("\n")) body[list] = now;
  }
  if (c.expires.value.trim()) body.expires = c.expires.value.trim();
  for (const limit of ["rpm", "max_concurrent"]) {
    const now = whole(c[limit].value);
    if (now !== (key[limit] ?? null)) body[limit] = now;
  }
  return body;
}

function scopeText(key) {
  const parts = [];
  parts.push(key.models.length ? t("keys.scope.models", { list: key.models.join(", ") }) : t("keys.scope.any-model"));
  if (key.providers.length) parts.push(t("keys.scope.providers", { list: key.providers.join(", ") }));
  return parts.join(" · ");
}

function limitsText(key) {
  const parts = [];
  if (key.rpm) parts.push(t("keys.limit.rpm", { n: formatNumber(key.rpm) }));
  if (key.max_concurrent) parts.push(t("keys.limit.concurrent", { n: formatNumber(key.max_concurrent) }));
  return parts.length ? parts.join(" · ") : t("keys.limit.none");
}

function editDialog(key, onSaved) {
  const { controls, fields } = scopeFields(key);
  const error = h("p", { class: "error-text", role: "alert" });
  const save = h("button", { type: "submit" }, t("common.save"));
  const dialog = h("dialog", { "aria-modal": "true", "aria-labelledby": "key-edit-title" });
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  const form = h("form", {},
    h("h2", { id: "key-edit-title" }, t("keys.edit.title", { name: key.name || key.prefix })),
    fields, error,
    h("div", { class: "row" }, save, button("common.cancel", close, { class: "secondary" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = changed(controls, key);
    if (!Object.keys(body).length) {
      close();
      return;
    }
    const answer = await busy(save, () => patch(`/api/keys/${key.id}`, body), error);
    if (answer) {
      close();
      toast(t("common.saved"));
      onSaved();
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  dialog.append(form);
  document.body.append(dialog);
  dialog.showModal();
  controls.name.focus();
}

export default async function render(root, ctx) {
  const once = h("div");
  const listBody = h("div");
  const list = h("section", { class: "card", "aria-labelledby": "keys-list-title" },
    h("div", { class: "page-head" },
      h("h2", { id: "keys-list-title" }, t("keys.list.title")),
      button("common.refresh", (event) => busy(event.currentTarget, load), { class: "secondary small" })),
    listBody);
  const usage = h("section", { class: "card", "aria-labelledby": "keys-usage-title" });

  // ---- create
  const { controls, fields } = scopeFields();
  const createError = h("p", { class: "error-text", role: "alert" });
  const createButton = h("button", { type: "submit" }, t("keys.create"));
  const form = h("form", { class: "card", "aria-labelledby": "keys-create-title" },
    h("h2", { id: "keys-create-title" }, t("keys.create.title")),
    h("p", { class: "muted" }, t("keys.create.intro")),
    fields, createError, createButton);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await busy(createButton, () => post("/api/keys", created(controls)), createError);
    if (!answer) return;
    form.reset();
    showOnce(answer);
    await load();
  });

  // The full key exists only in this answer: it is kept in this box (not
  // stored anywhere) until the user closes it or leaves the page.
  function showOnce(answer) {
    const title = h("h2", { id: "key-once-title" }, t("keys.once.title", { name: answer.name || answer.prefix }));
    const box = h("section", { class: "card key-once", "aria-labelledby": "key-once-title" },
      title,
      copyBox(answer.key),
      h("p", {}, h("strong", {}, t("keys.once.note"))),
      button("keys.once.done", () => clear(once), { class: "secondary" }));
    clear(once, box);
    title.tabIndex = -1;
    title.focus();
  }

  // ---- list
  async function load() {
    const { keys } = await get("/api/keys");
    if (ctx.signal.aborted) return;
    const columns = [
      { label: "keys.col.name", value: (k) => h("span", {}, k.name || "—", h("br"), h("code", { class: "muted" }, k.prefix + "…")) },
      { label: "keys.col.state", value: (k) => badge(t(`keys.state.${k.state}`), STATE_BADGE[k.state]) },
      { label: "keys.col.scope", value: (k) => scopeText(k) },
      { label: "keys.col.limits", value: (k) => limitsText(k) },
      { label: "keys.col.expires", value: (k) => (k.expires_at ? formatTime(k.expires_at) : t("common.never")) },
      { label: "keys.col.requests", value: (k) => formatNumber(k.usage.requests) },
      { label: "keys.col.tokens", value: (k) => t("keys.tokens", { input: formatNumber(k.usage.input_tokens), output: formatNumber(k.usage.output_tokens) }) },
      { label: "keys.col.last-used", value: (k) => (k.usage.last_used_at ? formatTime(k.usage.last_used_at) : t("common.never")) },
      { label: "keys.col.created", value: (k) => formatTime(k.created_at) },
      { label: "keys.col.actions", value: actions },
    ];
    clear(listBody, table(columns, keys, { empty: "keys.empty" }));
  }

  function actions(key) {
    if (key.state === "revoked") return "";
    const label = key.name || key.prefix;
    return h("div", { class: "row" },
      button("common.edit", () => editDialog(key, load), { class: "secondary small", "aria-label": t("keys.edit.label", { name: label }) }),
      button("keys.revoke", async (event) => {
        const control = event.currentTarget;
        if (!(await confirmDialog(t("keys.revoke.confirm", { name: label }), "keys.revoke"))) return;
        const done = await busy(control, () => del(`/api/keys/${key.id}`));
        if (done) {
          toast(t("keys.revoked", { name: label }));
          await load();
        }
      }, { class: "danger small", "aria-label": t("keys.revoke.label", { name: label }) }));
  }

  // ---- usage per key over a period
  async function loadUsage() {
    const title = h("h2", { id: "keys-usage-title" }, t("keys.usage.title"));
    const data = await get(`/api/usage${query({ group: "key", since: "30d" })}`);
    if (ctx.signal.aborted) return;
    clear(usage, title, h("p", { class: "muted" }, t("keys.usage.period")),
      table([
        { label: "keys.col.name", value: (r) => r.name },
        { label: "keys.col.requests", value: (r) => formatNumber(r.requests) },
        { label: "keys.usage.errors", value: (r) => formatNumber(r.errors) },
        { label: "keys.col.tokens", value: (r) => t("keys.tokens", { input: formatNumber(r.input_tokens), output: formatNumber(r.output_tokens) }) },
      ], data.rows));
  }

  root.append(pageHead("keys.title"), h("p", { class: "muted" }, t("keys.intro")), once, list, form, usage);
  await Promise.all([load(), loadUsage()]);
}
