// Providers and their accounts: add one from the catalog or by hand, test
// it, discover its models, enable/disable/remove it, and edit its proxy and
// rate limits (and each account's). Keys only ever come back masked. A
// ChatGPT plan is added by signing in (the flow in signInFlow below).
import { del, get, patch, post } from "../api.js";
import { badge, busy, button, checkbox, clear, confirmDialog, copyText, field, h, pageHead, select, tabs, toast } from "../dom.js";
import { formatNumber, formatTime, t } from "../i18n.js";

// omniroute/formats/wire.py WIRE_FORMATS
const FORMATS = ["openai", "openai-responses", "anthropic", "gemini"];
const USAGE_SETTINGS = "https://chatgpt.com/settings/usage";
// Sign-ins we do not offer (omniroute/providers/oauth/refused.py): each is
// another app's own login.
const REFUSED_APPS = "Claude Code, Gemini CLI, Antigravity, GitHub Copilot, Kiro, Kimi CLI, Cline, Kilo Code, Codex CLI";
const POLL_MS = 1500;
// omniroute/store/sign_ins.py: ok | expired | needs_login
const GRANT_BADGE = { ok: "ok", expired: "warn", needs_login: "bad" };

/** The sign-in address without its long query (the link and the copy
 * button carry all of it). */
function shortAddress(url) {
  const cut = url.indexOf("?");
  return cut < 0 ? url : `${url.slice(0, cut + 1)}…`;
}

/** Resolves after ``ms``, or early when ``signal`` aborts. */
function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
// The rate-limit fields the PATCH handlers accept (routing/ratelimit.py Limits).
const LIMITS = [
  { name: "rpm", label: "providers.limit.rpm", hint: "providers.limit.rpm-hint", step: "1", min: "1", int: true },
  { name: "min_gap", label: "providers.limit.min-gap", hint: "providers.limit.min-gap-hint", step: "any", min: "0" },
  { name: "max_concurrent", label: "providers.limit.max-concurrent", hint: "providers.limit.max-concurrent-hint", step: "1", min: "1", int: true },
  { name: "max_queue", label: "providers.limit.max-queue", hint: "providers.limit.max-queue-hint", step: "1", min: "0", int: true },
];

function seconds(value) {
  const s = Math.max(0, Math.ceil(value || 0));
  if (s < 120) return formatNumber(s, { style: "unit", unit: "second", unitDisplay: "short" });
  return formatNumber(Math.ceil(s / 60), { style: "unit", unit: "minute", unitDisplay: "short" });
}

function until(value) {
  const s = Math.max(0, value || 0);
  if (s < 7200) return seconds(s);
  if (s < 172800) return formatNumber(Math.round(s / 3600), { style: "unit", unit: "hour", unitDisplay: "short" });
  return formatNumber(Math.round(s / 86400), { style: "unit", unit: "day", unitDisplay: "short" });
}

function limitsText(limits) {
  if (!limits) return t("providers.limits-default");
  return LIMITS.filter((l) => limits[l.name] != null).map((l) => `${l.name}=${limits[l.name]}`).join(", ") || t("providers.limits-default");
}

/** Proxy and rate-limit inputs (plus priority for an account); ``changes()``
 * gives only what the user changed, in the shape the PATCH handlers take. */
function settingsEditor(record, { priority = false, provider = false } = {}) {
  const inputs = {};
  const parts = [];
  if (provider) {
    inputs.base_url = h("input", { type: "url", value: record.base_url || "", spellcheck: "false" });
    parts.push(field("providers.base-url", inputs.base_url));
    inputs.models = h("input", { type: "text", value: record.models_from === "provider" ? record.models.join(", ") : "", spellcheck: "false" });
    parts.push(field("providers.models-field", inputs.models, "providers.models-edit-hint"));
  }
  if (priority) {
    inputs.priority = h("input", { type: "number", step: "1", value: String(record.priority ?? "") });
    parts.push(field("providers.priority", inputs.priority, "providers.priority-hint"));
  }
  inputs.proxy = h("input", { type: "text", value: record.proxy || "", spellcheck: "false", autocomplete: "off" });
  parts.push(field("providers.proxy", inputs.proxy, "providers.proxy-hint"));
  const limits = record.limits || {};
  const limitInputs = {};
  for (const l of LIMITS) {
    limitInputs[l.name] = h("input", { type: "number", step: l.step, min: l.min, value: limits[l.name] == null ? "" : String(limits[l.name]) });
    parts.push(field(l.label, limitInputs[l.name], l.hint));
  }
  const number = (input, int) => (input.value.trim() === "" ? null : int ? Number.parseInt(input.value, 10) : Number(input.value));
  function changes() {
    const body = {};
    if (provider) {
      if (inputs.base_url.value.trim() !== (record.base_url || "")) body.base_url = inputs.base_url.value.trim();
      const models = inputs.models.value.split(",").map((m) => m.trim()).filter(Boolean);
      const before = record.models_from === "provider" ? record.models : [];
      if (models.join(",") !== before.join(",")) body.models = models;
    }
    if (priority && number(inputs.priority, true) !== record.priority && inputs.priority.value.trim() !== "") {
      body.priority = number(inputs.priority, true);
    }
    // The proxy comes back masked: send it only when the user typed a new one.
    const proxy = inputs.proxy.value.trim();
    if (proxy !== (record.proxy || "")) body.proxy = proxy || null;
    const changed = {};
    for (const l of LIMITS) {
      const value = number(limitInputs[l.name], l.int);
      if (value !== (limits[l.name] ?? null)) changed[l.name] = value;
    }
    if (Object.keys(changed).length) body.limits = changed;
    return body;
  }
  return { element: h("div", { class: "form-grid" }, parts), changes };
}

export default async function render(root, ctx) {
  const listBox = h("div", { class: "provider-list" });
  const addBox = h("div");
  let catalog = [];
  let providers = [];
  let grants = new Map(); // account id -> its sign-in (status, expiry, email)
  let quotas = new Map(); // account id -> its usage windows (GET /api/quota)
  let stopFlow = null; // ends the polling of the sign-in shown, when another starts
  const flowBox = h("div", { class: "sign-in-flow", "aria-live": "polite" });
  root.append(
    pageHead("providers.title", button("common.refresh", () => load(), { class: "secondary" })),
    addBox,
    signInCard(),
    h("h2", {}, t("providers.configured")),
    listBox,
  );

  async function load() {
    const [list, health, signed, quota] = await Promise.all([
      get("/api/providers"), get("/api/health"), get("/api/oauth/accounts"), get("/api/quota")]);
    if (ctx.signal.aborted) return;
    providers = list.providers;
    grants = new Map(signed.accounts.map((g) => [g.account_id, g]));
    // A pass-through account's windows are per client credential: not shown here.
    quotas = new Map(quota.accounts.filter((q) => !q.client).map((q) => [q.account_id, q]));
    clear(listBox, providers.length
      ? providers.map((p) => providerCard(p, health))
      : h("p", { class: "muted" }, t("providers.empty")));
  }

  // ---- health: breakers and cooldowns naming this provider or account
  function providerHealth(name, health) {
    const out = [];
    for (const b of health.breakers || []) {
      if (b.provider !== name || b.state === "closed") continue;
      const kind = b.state === "open" ? "bad" : "warn";
      if (b.scope === "provider") out.push(badge(t(`providers.breaker.${b.state}`, { time: seconds(b.retry_in) }), kind));
      else out.push(badge(t("providers.model-breaker", { model: b.model || "?", time: seconds(b.retry_in) }), kind));
    }
    for (const c of health.cooldowns || []) {
      if (c.provider === name && c.scope !== "account") out.push(badge(t("providers.cooldown", { time: seconds(c.remaining) }), "warn"));
    }
    return out;
  }

  function accountHealth(id, health) {
    return (health.cooldowns || [])
      .filter((c) => c.scope === "account" && c.account === id)
      .map((c) => badge(c.model
        ? t("providers.cooldown-model", { model: c.model, time: seconds(c.remaining) })
        : t("providers.cooldown", { time: seconds(c.remaining) }), "warn"));
  }

  // ---- one provider
  function providerCard(p, health) {
    const path = `/api/providers/${encodeURIComponent(p.name)}`;
    const result = h("div", { class: "test-result", "aria-live": "polite" });
    const problems = providerHealth(p.name, health);
    const accountProblems = p.accounts.some((a) => accountHealth(a.id, health).length);
    const healthBadge = problems.length || accountProblems ? problems : [badge(t("providers.healthy"), "ok")];

    const test = button("common.test", () => busy(test, async () => {
      clear(result, h("p", { class: "muted" }, t("providers.testing")));
      showTest(result, await post(`${path}/test`));
    }, result), { class: "small", disabled: !p.accounts.some((a) => a.enabled) });
    const replace = checkbox("providers.discover-replace", false);
    const discover = button("providers.discover", () => busy(discover, async () => {
      const found = await post(`${path}/discover`, { replace: replace.input.checked });
      await load();
      toast(found.listed === null
        ? t("providers.discover-unlisted")
        : t("providers.discover-result", { added: found.added.length, removed: found.removed.length, total: found.models.length }));
    }, result), { class: "secondary small" });
    const toggle = button(p.enabled ? "common.disable" : "common.enable", () => busy(toggle, async () => {
      await patch(path, { enabled: !p.enabled });
      toast(t(p.enabled ? "providers.disabled-toast" : "providers.enabled-toast", { name: p.name }));
      await load();
    }), { class: "secondary small" });
    const remove = button("providers.remove", async () => {
      if (!(await confirmDialog(t("providers.remove-confirm", { name: p.name }), "providers.remove"))) return;
      await busy(remove, async () => {
        const answer = await del(path);
        const combos = Object.keys(answer.combos_naming_it || {});
        toast(combos.length
          ? t("providers.removed-combos", { name: p.name, combos: combos.join(", ") })
          : t("providers.removed", { name: p.name }), combos.length ? "bad" : "");
        await load();
      });
    }, { class: "danger small" });

    const settings = settingsEditor(p, { provider: true });
    const settingsError = h("p", { class: "error-text", role: "alert" });
    const saveSettings = button("common.save", () => busy(saveSettings, async () => {
      const body = settings.changes();
      if (!Object.keys(body).length) return toast(t("providers.nothing-changed"));
      await patch(path, body);
      toast(t("common.saved"));
      await load();
    }, settingsError));

    const models = p.models.length
      ? h("ul", { class: "model-list" }, p.models.map((m) => h("li", {}, h("code", {}, m))))
      : h("span", { class: "muted" }, t("providers.models-any"));

    return h("section", { class: "card provider", "aria-label": p.name, dataset: { provider: p.name } },
      h("div", { class: "page-head" },
        h("h3", {}, p.name),
        h("div", { class: "row" },
          badge(p.enabled ? t("common.enabled") : t("common.disabled"), p.enabled ? "ok" : "warn"),
          badge(p.format), badge(t(`providers.tier.${p.tier}`)), healthBadge)),
      h("dl", { class: "facts" },
        h("dt", {}, t("providers.base-url")), h("dd", {}, h("code", {}, p.base_url)),
        h("dt", {}, t("providers.models", { count: p.models.length })),
        h("dd", {}, models, p.models.length ? h("div", { class: "small muted" }, t(`providers.models-from.${p.models_from}`)) : null),
        h("dt", {}, t("providers.proxy")), h("dd", {}, p.proxy ? h("code", {}, p.proxy) : h("span", { class: "muted" }, t("providers.proxy-none"))),
        h("dt", {}, t("providers.limits")), h("dd", {}, limitsText(p.limits))),
      h("div", { class: "row" }, test, discover, replace.element, toggle, remove),
      result,
      h("h4", {}, t("providers.accounts", { count: p.accounts.length })),
      p.accounts.length
        ? h("ul", { class: "account-list" }, p.accounts.map((a) => accountItem(a, health)))
        : h("p", { class: "muted" }, t("providers.no-accounts")),
      // A signed-in provider gets accounts by signing in, not by a key.
      p.accounts.some((a) => a.kind === "oauth") ? null : addAccountForm(p),
      h("details", { class: "provider-settings" },
        h("summary", {}, t("providers.settings")),
        settings.element, settingsError, h("div", { class: "row" }, saveSettings)));
  }

  function showTest(box, r) {
    const facts = [badge(r.ok ? t("providers.test-ok") : t("providers.test-failed"), r.ok ? "ok" : "bad")];
    if (r.latency_ms != null) facts.push(h("span", {}, t("providers.latency", { ms: formatNumber(r.latency_ms) })));
    if (r.status != null) facts.push(h("span", {}, t("providers.http-status", { status: r.status })));
    if (r.model) facts.push(h("code", {}, r.model));
    if (r.account != null) facts.push(h("span", {}, t("providers.account-n", { id: r.account })));
    clear(box, h("div", { class: "row" }, facts), r.error ? h("p", { class: "error-text" }, r.error) : null);
  }

  // ---- accounts
  function accountItem(a, health) {
    if (a.kind === "oauth") return signedInItem(a, health);
    const path = `/api/accounts/${a.id}`;
    const label = t("providers.account-n", { id: a.id });
    const toggle = button(a.enabled ? "common.disable" : "common.enable", () => busy(toggle, async () => {
      await patch(path, { enabled: !a.enabled });
      await load();
    }), { class: "secondary small", "aria-label": t(a.enabled ? "providers.disable-account" : "providers.enable-account", { id: a.id }) });
    const remove = button("providers.remove", async () => {
      if (!(await confirmDialog(t("providers.remove-account-confirm", { id: a.id }), "providers.remove"))) return;
      await busy(remove, async () => {
        await del(path);
        toast(t("providers.account-removed", { id: a.id }));
        await load();
      });
    }, { class: "danger small", "aria-label": t("providers.remove-account", { id: a.id }) });
    const editor = settingsEditor(a, { priority: true });
    const error = h("p", { class: "error-text", role: "alert" });
    const save = button("common.save", () => busy(save, async () => {
      const body = editor.changes();
      if (!Object.keys(body).length) return toast(t("providers.nothing-changed"));
      await patch(path, body);
      toast(t("common.saved"));
      await load();
    }, error), { "aria-label": t("providers.save-account", { id: a.id }) });
    return h("li", { dataset: { account: String(a.id) } },
      h("div", { class: "row" },
        h("strong", {}, label),
        h("code", { title: t("providers.key") }, a.key),
        h("span", { class: "small muted" }, t("providers.priority-n", { priority: a.priority })),
        badge(a.enabled ? t("common.enabled") : t("common.disabled"), a.enabled ? "ok" : "warn"),
        accountHealth(a.id, health),
        a.proxy ? h("span", { class: "small" }, t("providers.via-proxy", { proxy: a.proxy })) : null,
        a.limits ? h("span", { class: "small" }, limitsText(a.limits)) : null),
      quotaBars(a.id),
      h("div", { class: "row" }, toggle, remove),
      h("details", {},
        h("summary", {}, t("providers.account-settings", { id: a.id })),
        editor.element, error, h("div", { class: "row" }, save)));
  }

  // ---- usage windows: one bar per window, and when routing skips the account
  function quotaBars(id) {
    const q = quotas.get(id);
    if (!q || !q.windows.length) return null;
    return h("div", { class: "quota" },
      q.windows.map((w) => {
        const name = w.model ? `${w.name} · ${w.model}` : w.name;
        const label = t("providers.quota.window", { name, percent: formatNumber(w.used_percent, { maximumFractionDigits: 0 }) });
        return h("div", { class: "quota-window" },
          h("span", { class: "small" }, label),
          h("meter", { min: "0", max: "100", low: "70", high: "90", optimum: "0", value: String(w.used_percent), "aria-label": label }),
          w.resets_in != null ? h("span", { class: "small muted" }, t("providers.quota.resets", { time: until(w.resets_in) })) : null,
          w.estimated ? badge(t("providers.quota.estimated")) : null);
      }),
      q.blocked ? badge(t("providers.quota.blocked", { time: until(q.blocked_until - Date.now() / 1000) }), "warn") : null);
  }

  function addAccountForm(p) {
    const key = h("input", { type: "password", autocomplete: "off", spellcheck: "false" });
    const priority = h("input", { type: "number", step: "1" });
    const error = h("p", { class: "error-text", role: "alert" });
    const add = button("providers.add-account-submit", () => busy(add, async () => {
      const body = { api_key: key.value };
      if (priority.value.trim() !== "") body.priority = Number.parseInt(priority.value, 10);
      const added = await post(`/api/providers/${encodeURIComponent(p.name)}/accounts`, body);
      toast(t("providers.account-added", { id: added.id, name: p.name }));
      await load();
    }, error));
    return h("details", { class: "add-account" },
      h("summary", {}, t("providers.add-account")),
      h("div", { class: "form-grid" },
        field("providers.api-key", key, "providers.api-key-hint"),
        field("providers.priority", priority, "providers.priority-hint")),
      error, h("div", { class: "row" }, add));
  }

  // ---- signing in with a ChatGPT plan
  function signInCard() {
    const name = h("input", { type: "text", maxlength: "64", autocomplete: "off", spellcheck: "false" });
    const error = h("p", { class: "error-text", role: "alert" });
    const start = button("providers.signin.continue", () => busy(start, async () => {
      await signInFlow(name.value.trim() || null);
    }, error), { class: "chatgpt-continue" });
    return h("section", { class: "card sign-in", "aria-labelledby": "subscriptions-title" },
      h("h2", { id: "subscriptions-title" }, t("providers.subscriptions")),
      h("p", {}, t("providers.signin.plan"), " ",
        h("a", { href: USAGE_SETTINGS, target: "_blank", rel: "noopener noreferrer" }, t("providers.signin.usage-link"))),
      h("div", { class: "form-grid" }, field("providers.signin.name", name, "providers.signin.name-hint")),
      error, h("div", { class: "row" }, start),
      flowBox,
      h("details", { class: "small" },
        h("summary", {}, t("providers.signin.refused")),
        h("p", { class: "muted" }, h("span", { dir: "ltr" }, REFUSED_APPS), " — ", t("providers.signin.refused-why"))));
  }

  /** Start a sign-in and show it (under the Continue button, which stays put
   * when the list is drawn again) until it is done, failed or over. */
  async function signInFlow(name) {
    const box = flowBox;
    if (stopFlow) stopFlow.abort();
    const stop = new AbortController();
    stopFlow = stop;
    ctx.signal.addEventListener("abort", () => stop.abort(), { once: true });
    const flow = await post("/api/oauth/chatgpt/start", name ? { name } : {});
    if (ctx.signal.aborted || stop.signal.aborted) return;
    const state = h("p", { class: "sign-in-state" }, t("providers.signin.waiting", { time: formatTime(flow.expires_at) }));
    const pasted = h("input", { type: "text", autocomplete: "off", spellcheck: "false", inputmode: "url" });
    const pasteError = h("p", { class: "error-text", role: "alert" });
    let finished = false;
    const show = (shown) => {
      if (finished || shown.status === "pending") return;
      finished = true;
      stop.abort();
      if (shown.status === "done") {
        clear(box, h("p", { role: "status" }, badge(shown.email
          ? t("providers.signin.done", { email: shown.email })
          : t("providers.signin.done-anonymous"), "ok")),
        shown.warning ? h("p", { class: "error-text" }, shown.warning) : null);
        toast(t("providers.signin.done-toast"));
        load().catch((failure) => toast(failure.message, "bad"));
      } else {
        clear(box, h("p", { class: "error-text", role: "alert" },
          t(shown.status === "expired" ? "providers.signin.expired" : "providers.signin.failed", { error: shown.error || "" })));
      }
    };
    const finish = button("providers.signin.finish", () => busy(finish, async () => {
      if (!pasted.value.trim()) throw new Error(t("providers.signin.paste-empty"));
      show(await post(`/api/oauth/flows/${encodeURIComponent(flow.flow_id)}/complete`, { url: pasted.value.trim() }));
    }, pasteError));
    const ssh = (flow.ssh_hint || "").match(/ssh -L .*/);
    const link = h("a", { href: flow.url, target: "_blank", rel: "noopener noreferrer", dir: "ltr" }, shortAddress(flow.url));
    clear(box,
      h("p", {}, t("providers.signin.open")),
      h("div", { class: "sign-in-link" },
        link,
        button("providers.signin.copy", () => copyText(flow.url), { class: "secondary small" })),
      h("p", { class: "small" }, t("providers.signin.same-machine")),
      h("p", { class: "small" }, t("providers.signin.other-machine")),
      field("providers.signin.paste", pasted, "providers.signin.paste-hint"),
      pasteError, h("div", { class: "row" }, finish),
      ssh ? h("p", { class: "small muted" }, t("providers.signin.ssh"), " ", h("code", { dir: "ltr" }, ssh[0])) : null,
      state);
    box.scrollIntoView({ block: "nearest" });
    link.focus();
    poll(flow, stop.signal, show);
  }

  // Poll a sign-in until it ends (the loopback redirect completes it by
  // itself), the page is left or another sign-in starts; never past its expiry.
  async function poll(flow, signal, show) {
    const until = Math.max(flow.expires_at * 1000, Date.now()) + 5000;
    while (!signal.aborted && Date.now() < until) {
      await pause(POLL_MS, signal);
      if (signal.aborted) return;
      try {
        show(await get(`/api/oauth/flows/${encodeURIComponent(flow.flow_id)}`));
      } catch (failure) {
        if (!signal.aborted) show({ status: "failed", error: failure.message });
        return;
      }
    }
    if (!signal.aborted) show({ status: "expired", error: "" });
  }

  function signedInItem(a, health) {
    const grant = grants.get(a.id);
    const status = grant ? grant.status : "needs_login";
    const again = button("providers.signin.again", () => busy(again, () => signInFlow(null)),
      { class: "small", "aria-label": t("providers.signin.again-account", { id: a.id }) });
    const out = button("providers.signin.sign-out", async () => {
      if (!(await confirmDialog(t("providers.signin.sign-out-confirm", { id: a.id }), "providers.signin.sign-out"))) return;
      await busy(out, async () => {
        const answer = await post(`/api/oauth/accounts/${a.id}/logout`);
        toast(t(answer.revoked ? "providers.signin.signed-out" : "providers.signin.signed-out-unrevoked", { id: a.id }));
        await load();
      });
    }, { class: "danger small", disabled: status === "needs_login", "aria-label": t("providers.signin.sign-out-account", { id: a.id }) });
    const expires = grant && status !== "needs_login" && grant.expires_at
      ? h("span", { class: "small muted" }, t("providers.signin.expires", { time: formatTime(grant.expires_at) }))
      : null;
    return h("li", { dataset: { account: String(a.id) } },
      h("div", { class: "row" },
        h("strong", {}, t("providers.account-n", { id: a.id })),
        badge(t("providers.kind.oauth")),
        grant && grant.email ? h("span", {}, grant.email) : null,
        badge(t(`providers.signin.status.${status}`), GRANT_BADGE[status] || "warn"),
        expires,
        badge(a.enabled ? t("common.enabled") : t("common.disabled"), a.enabled ? "ok" : "warn"),
        accountHealth(a.id, health)),
      grant && grant.last_error && status !== "ok" ? h("p", { class: "small error-text" }, grant.last_error) : null,
      quotaBars(a.id),
      h("div", { class: "row" }, again, out));
  }

  // ---- adding a provider: from the catalog, or a custom one
  function addCard() {
    const pane = h("div");
    const bar = tabs([
      { id: "catalog", label: "providers.from-catalog" },
      { id: "custom", label: "providers.custom" },
    ], (id) => clear(pane, id === "catalog" ? catalogPane() : customPane()));
    return h("details", { class: "card add-provider" },
      h("summary", {}, t("providers.add")),
      bar, pane);
  }

  function catalogPane() {
    const search = h("input", { type: "search", autocomplete: "off", spellcheck: "false" });
    const results = h("ul", { class: "catalog-list" });
    const chosen = h("div", { "aria-live": "polite" });
    const have = new Set(providers.map((p) => p.catalog || p.name));
    function show() {
      const q = search.value.trim().toLowerCase();
      const hits = catalog.filter((c) => !q || [c.id, c.name, c.alias, c.tier].some((v) => v && String(v).toLowerCase().includes(q)));
      clear(results, hits.length ? hits.map((c) => h("li", {},
        h("button", { type: "button", class: "secondary", disabled: c.auth === "oauth", onclick: () => pick(c) },
          h("span", {}, c.name), h("code", { class: "small" }, c.id)),
        badge(t(`providers.tier.${c.tier}`)),
        c.auth === "oauth" ? badge(t("providers.signin.in-catalog"), "warn") : null,
        have.has(c.id) ? badge(t("providers.already"), "ok") : null))
        : h("li", { class: "muted" }, t("providers.catalog-none")));
    }
    function pick(entry) {
      const key = h("input", { type: "password", autocomplete: "off", spellcheck: "false" });
      const error = h("p", { class: "error-text", role: "alert" });
      const add = button("providers.add-this", () => busy(add, async () => {
        const body = { name: entry.id };
        if (key.value.trim() || entry.auth !== "none") body.api_key = key.value;
        await post("/api/providers", body);
        toast(t("providers.added", { name: entry.name }));
        await load();
        clear(chosen);
      }, error));
      clear(chosen, h("div", { class: "card chosen" },
        h("h3", {}, entry.name),
        h("p", { class: "small muted" }, h("code", {}, entry.base_url), " · ", entry.format,
          " · ", t("providers.models", { count: entry.models.length })),
        field("providers.api-key", key, entry.auth === "none" ? "providers.api-key-none" : "providers.api-key-hint"),
        error, h("div", { class: "row" }, add)));
      key.focus();
    }
    search.addEventListener("input", show);
    show();
    return h("div", {}, field("providers.search", search), results, chosen);
  }

  function customPane() {
    const name = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
    const format = select(FORMATS, "openai");
    const url = h("input", { type: "url", placeholder: "https://api.example.com/v1", spellcheck: "false" });
    const key = h("input", { type: "password", autocomplete: "off", spellcheck: "false" });
    const models = h("input", { type: "text", spellcheck: "false" });
    const error = h("p", { class: "error-text", role: "alert" });
    const add = button("providers.add-custom", () => busy(add, async () => {
      const body = { name: name.value.trim(), format: format.value, base_url: url.value.trim(), api_key: key.value };
      const list = models.value.split(",").map((m) => m.trim()).filter(Boolean);
      if (list.length) body.models = list;
      await post("/api/providers", body);
      toast(t("providers.added", { name: body.name }));
      await load();
      for (const input of [name, url, key, models]) input.value = "";
    }, error));
    return h("div", {},
      h("div", { class: "form-grid" },
        field("providers.name", name, "providers.name-hint"),
        field("providers.format", format),
        field("providers.base-url", url),
        field("providers.api-key", key),
        field("providers.models-field", models, "providers.models-hint")),
      error, h("div", { class: "row" }, add));
  }

  const [, cat] = await Promise.all([load(), get("/api/catalog")]);
  if (ctx.signal.aborted) return;
  catalog = cat.providers;
  clear(addBox, addCard());
}
