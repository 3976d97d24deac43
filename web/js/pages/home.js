// Home: the four-step setup guide on a new gateway, afterwards a summary of
// today (requests, errors, spend) and of the providers' health.
import { get, post } from "../api.js";
import { badge, busy, button, clear, copyBox, field, h, pageHead, select, tabs } from "../dom.js";
import { formatMoney, formatNumber, t } from "../i18n.js";

const DONE = "omniroute.onboarded";
const FORMATS = ["openai", "openai-responses", "anthropic", "gemini"];
const STEPS = ["home.step.password", "home.step.provider", "home.step.key", "home.step.connect"];

export default async function render(root, ctx) {
  const [providers, keys] = await Promise.all([get("/api/providers"), get("/api/keys")]);
  const fresh = !providers.providers.length || !keys.keys.length;
  if (ctx.state.first_run || (fresh && !localStorage.getItem(DONE))) {
    ctx.state.first_run = false;
    wizard(root, ctx, providers.providers);
  } else {
    await summary(root, ctx, providers.providers);
  }
}

// ---------------------------------------------------------------- the guide

function wizard(root, ctx, existing) {
  const found = { providers: existing, key: null, model: firstModel(existing) };
  const steps = h("ol", { class: "steps", "aria-label": t("home.steps") });
  const body = h("section", { class: "card", "aria-live": "polite" });
  const skip = button("home.skip", () => finish(), { class: "secondary" });
  root.append(pageHead("home.welcome", skip), steps, body);

  function finish() {
    localStorage.setItem(DONE, "1");
    ctx.refresh();
  }

  function show(index) {
    clear(steps, STEPS.map((key, i) =>
      h("li", { class: i < index ? "done" : "", "aria-current": i === index ? "step" : false },
        `${i + 1}. ${t(key)}`)));
    clear(body, h("h2", { tabindex: "-1" }, t(STEPS[index])));
    const next = button(index === STEPS.length - 1 ? "home.finish" : "common.next",
      () => (index === STEPS.length - 1 ? finish() : show(index + 1)));
    [passwordStep, providerStep, keyStep, connectStep][index](body, found, next);
    body.append(h("div", { class: "row" }, next));
    body.querySelector("h2").focus();
  }
  show(1);
}

function passwordStep(body) {
  body.append(h("p", {}, t("home.password.done")));
}

function providerStep(body, found) {
  const list = h("div");
  const refreshList = () => clear(list, found.providers.length
    ? h("p", {}, t("home.provider.have", { names: found.providers.map((p) => p.name).join(", ") }))
    : h("p", { class: "muted" }, t("home.provider.none")));
  refreshList();
  const error = h("p", { class: "error-text", role: "alert" });
  const result = h("p", { role: "status" });

  async function added(answer) {
    found.providers = [...found.providers.filter((p) => p.name !== answer.name), answer];
    found.model = found.model || firstModel([answer]);
    refreshList();
    result.textContent = t("home.provider.added", { name: answer.name });
    const test = button("home.provider.test", async () => {
      const outcome = await busy(test, () => post(`/api/providers/${encodeURIComponent(answer.name)}/test`), error);
      if (!outcome) return;
      result.textContent = outcome.ok
        ? t("home.provider.test-ok", { ms: Math.round(outcome.latency_ms) })
        : t("home.provider.test-failed", { error: outcome.error || outcome.status });
    }, { class: "secondary" });
    result.append(" ", test);
  }

  const panel = h("div");
  const bar = tabs([
    { id: "catalog", label: "home.provider.catalog" },
    { id: "custom", label: "home.provider.custom" },
  ], (id) => clear(panel, id === "catalog" ? catalogForm(added, error) : customForm(added, error)));
  body.append(h("p", {}, t("home.provider.intro")), list, bar, panel, error, result);
}

function catalogForm(added, error) {
  const search = h("input", { type: "search", autocomplete: "off" });
  const choice = h("select", { required: true });
  const key = h("input", { type: "password", autocomplete: "off" });
  const submit = h("button", { type: "submit" }, t("home.provider.add"));
  let catalog = [];
  const fill = () => {
    const words = search.value.trim().toLowerCase();
    const shown = catalog.filter((p) => `${p.id} ${p.name} ${p.alias || ""}`.toLowerCase().includes(words));
    clear(choice, shown.map((p) => h("option", { value: p.id }, `${p.name} (${p.id}, ${p.tier})`)));
  };
  get("/api/catalog").then((data) => {
    // Subscriptions sign in differently; the guide offers key-based providers.
    catalog = data.providers.filter((p) => p.auth !== "oauth");
    fill();
  });
  search.addEventListener("input", fill);
  const form = h("form", {},
    field("home.provider.search", search), field("home.provider.choose", choice),
    field("home.provider.key", key), submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await busy(submit, () => post("/api/providers", { name: choice.value, api_key: key.value }), error);
    if (answer) {
      key.value = "";
      added(answer);
    }
  });
  return form;
}

function customForm(added, error) {
  const name = h("input", { required: true, autocomplete: "off", pattern: "[a-z0-9][a-z0-9._\\-]*" });
  const format = select(FORMATS, "openai");
  const url = h("input", { type: "url", required: true, placeholder: "http://127.0.0.1:11434/v1" });
  const key = h("input", { type: "password", autocomplete: "off" });
  const models = h("input", { autocomplete: "off" });
  const submit = h("button", { type: "submit" }, t("home.provider.add"));
  const form = h("form", {},
    h("div", { class: "form-grid" },
      field("home.custom.name", name, "home.custom.name-hint"), field("home.custom.format", format),
      field("home.custom.url", url), field("home.provider.key", key),
      field("home.custom.models", models, "home.custom.models-hint")),
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: name.value.trim(),
      format: format.value,
      base_url: url.value.trim(),
      models: models.value.split(",").map((m) => m.trim()).filter(Boolean),
    };
    if (key.value) body.api_key = key.value;
    const answer = await busy(submit, () => post("/api/providers", body), error);
    if (answer) {
      form.reset();
      added(answer);
    }
  });
  return form;
}

function keyStep(body, found) {
  const name = h("input", { required: true, autocomplete: "off", value: t("home.key.default-name") });
  const submit = h("button", { type: "submit" }, t("home.key.create"));
  const error = h("p", { class: "error-text", role: "alert" });
  const shown = h("div");
  const form = h("form", {}, h("p", {}, t("home.key.intro")), field("home.key.name", name), submit, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await busy(submit, () => post("/api/keys", { name: name.value.trim() }), error);
    if (!answer) return;
    found.key = answer.key;
    clear(shown, h("div", { class: "card key-once" },
      h("p", {}, h("strong", {}, t("home.key.once"))), copyBox(answer.key)));
  });
  body.append(form, shown);
}

function connectStep(body, found) {
  const base = location.origin;
  const key = found.key || "sk-omni-…";
  const model = found.model || "provider/model";
  const snippets = {
    curl: `curl ${base}/v1/chat/completions \\\n  -H "Authorization: Bearer ${key}" \\\n  -H "Content-Type: application/json" \\\n  -d '{"model": "${model}", "messages": [{"role": "user", "content": "Hello"}]}'`,
    openai: `from openai import OpenAI\n\nclient = OpenAI(base_url="${base}/v1", api_key="${key}")\nreply = client.chat.completions.create(\n    model="${model}",\n    messages=[{"role": "user", "content": "Hello"}],\n)\nprint(reply.choices[0].message.content)`,
    claude: `export ANTHROPIC_BASE_URL=${base}\nexport ANTHROPIC_AUTH_TOKEN=${key}\nexport ANTHROPIC_MODEL=${model}\nclaude`,
    codex: `# ~/.codex/config.toml\nmodel = "${model}"\nmodel_provider = "omniroute"\n\n[model_providers.omniroute]\nname = "OmniRoute"\nbase_url = "${base}/v1"\nenv_key = "OMNIROUTE_API_KEY"\nwire_api = "responses"\n\n# then, in the shell:\nexport OMNIROUTE_API_KEY=${key}\ncodex`,
    gemini: `export GOOGLE_GEMINI_BASE_URL=${base}\nexport GEMINI_API_KEY=${key}\ngemini --model ${model}`,
  };
  const panel = h("div");
  body.append(h("p", {}, t("home.connect.intro")),
    tabs(Object.keys(snippets).map((id) => ({ id, label: `home.connect.${id}` })),
      (id) => clear(panel, copyBox(snippets[id]))),
    panel, h("p", { class: "muted" }, t("home.connect.more")));
}

function firstModel(providers) {
  for (const p of providers) if (p.enabled !== false && p.models?.length) return `${p.name}/${p.models[0]}`;
  return null;
}

// ---------------------------------------------------------------- the summary

async function summary(root, ctx, providers) {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const [usage, health] = await Promise.all([
    get(`/api/usage?group=provider&since=${Math.floor(midnight.getTime() / 1000)}`),
    get("/api/health"),
  ]);
  const troubled = new Set();
  for (const b of health.breakers || []) if (b.state && b.state !== "closed" && b.provider) troubled.add(b.provider);
  for (const c of health.cooldowns || []) if (c.provider) troubled.add(c.provider);
  const enabled = providers.filter((p) => p.enabled);
  const healthy = enabled.filter((p) => !troubled.has(p.name)).length;
  const totals = usage.totals || {};
  const stat = (labelKey, value, id) => h("div", { class: "card", dataset: { stat: id } },
    h("div", { class: "muted" }, t(labelKey)), h("div", { class: "stat" }, value));
  root.append(
    pageHead("home.title", button("home.guide", () => {
      localStorage.removeItem(DONE);
      ctx.state.first_run = true;
      ctx.refresh();
    }, { class: "secondary" })),
    h("div", { class: "grid" },
      stat("home.today.requests", formatNumber(totals.requests), "requests"),
      stat("home.today.errors", formatNumber(totals.errors), "errors"),
      stat("home.today.spend", formatMoney(totals.cost), "spend"),
      stat("home.providers-healthy", t("home.of", { n: healthy, total: enabled.length }), "healthy")),
    h("section", { class: "card" },
      h("h2", {}, t("nav.providers")),
      providers.length
        ? h("ul", {}, providers.map((p) => h("li", {}, `${p.name} `,
          !p.enabled ? badge(t("common.disabled"))
            : troubled.has(p.name) ? badge(t("home.troubled"), "warn") : badge(t("home.healthy"), "ok"))))
        : h("p", { class: "muted" }, t("home.provider.none")),
      h("a", { href: "#/providers" }, t("home.manage-providers"))));
}
