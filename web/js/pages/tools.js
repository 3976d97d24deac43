// CLI tools: ready-to-copy configuration for coding tools, filled with this
// gateway's URL, a client key and the models it serves; and a one-click
// setup that writes a tool's own settings file on the gateway's machine.
import { get, post } from "../api.js";
import { busy, button, clear, copyBox, copyText, field, h, pageHead, select, tabs, uid } from "../dom.js";
import { t } from "../i18n.js";

// The same tab-only place the translator keeps the key in.
const KEY_STORAGE = "omniroute.client-key";
const KEY_PLACEHOLDER = "sk-omni-...";
const MODEL_PLACEHOLDER = "your-model";
const PROVIDER_ID = "omniroute";
const COPILOT_FILE = "chatLanguageModels.json";
// Copilot's Custom Endpoint API types and the gateway path each one calls.
const COPILOT_APIS = [
  ["chat-completions", "/v1/chat/completions"],
  ["responses", "/v1/responses"],
  ["messages", "/v1/messages"],
];

// One tab per tool; ``name`` is also its card's heading. ``setup``: the
// gateway can write this tool's settings file (POST /api/tools/{id}/setup).
const TOOLS = [
  { id: "claude", label: "tools.tab.claude", name: "Claude Code", setup: true },
  { id: "codex", label: "tools.tab.codex", name: "Codex CLI", setup: true },
  { id: "gemini", label: "tools.tab.gemini", name: "Gemini CLI", setup: true },
  { id: "opencode", label: "tools.tab.opencode", name: "OpenCode", setup: true },
  { id: "cline", label: "tools.tab.cline", name: "Cline", setup: true },
  { id: "kilo", label: "tools.tab.kilo", name: "Kilo Code", setup: true },
  { id: "openclaw", label: "tools.tab.openclaw", name: "OpenClaw", setup: true },
  { id: "copilot", label: "tools.tab.copilot", name: "GitHub Copilot" },
];

const json = (value) => JSON.stringify(value, null, 2);
/** A value for a POSIX shell, single-quoted unless plainly safe. */
const sh = (value) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`);
/** A TOML basic string (its escapes are JSON's for what can appear here). */
const toml = (value) => JSON.stringify(value);

async function loadModels() {
  const [providers, combos] = await Promise.all([get("/api/providers"), get("/api/combos")]);
  const names = combos.combos.filter((c) => c.enabled).map((c) => c.name);
  for (const p of providers.providers) {
    if (p.enabled) for (const m of p.models) names.push(`${p.name}/${m}`);
  }
  return [...new Set(names)];
}

/** A copy box for code (config files read left to right in every
 * language) whose button names what it copies. */
function codeBox(text, name) {
  const box = copyBox(text);
  box.querySelector("pre").dir = "ltr";
  box.querySelector("button").setAttribute("aria-label", t("tools.copy-named", { name }));
  return box;
}

/** One snippet: the file it goes in, then the text with a copy button. */
function snippet(path, text) {
  return h("div", { class: "field" },
    h("p", { class: "muted" }, t("tools.file", { path })),
    codeBox(text, path));
}

/** A tool's card, a region named by its heading. */
function toolCard(name, introKey, ...parts) {
  const id = uid("tool");
  return h("section", { class: "card", "aria-labelledby": id, dataset: { tool: name } },
    h("h2", { id }, name),
    h("p", {}, t(introKey)),
    ...parts.flat());
}

/** The fields of an extension's settings form, each with its own copy button. */
function settingsForm(where, rows) {
  return [
    h("p", { class: "muted" }, where),
    ...rows.map(([label, value]) => h("div", { class: "field" }, h("div", { class: "muted" }, label), codeBox(value, label))),
  ];
}

/** The setup section of one tool's card: preview (a dry run), set up and
 * undo, acting on the gateway machine's files. ``body()`` gives the
 * request's fields from the page's inputs. Built once per page and moved
 * into the card at each redraw, so a shown diff survives the redraw. */
function setupSection(tool, body) {
  const paths = h("p", { class: "muted" });
  const status = h("p", { class: "small", role: "status", "aria-live": "polite" });
  const error = h("p", { class: "error-text", role: "alert" });
  const diffLabel = uid("diff");
  const diff = h("pre", { tabindex: "0", dir: "ltr", hidden: true, "aria-labelledby": diffLabel });
  const diffHead = h("h3", { id: diffLabel, hidden: true }, t("tools.setup.diff"));
  const list = (names) => names.join(", ");
  const call = (action, payload) => post(`/api/tools/${tool}/${action}`, payload);
  const show = (text) => {
    diff.textContent = text || t("tools.setup.no-changes");
    diff.hidden = diffHead.hidden = false;
  };
  const preview = button("tools.setup.preview", () => busy(preview, async () => {
    status.textContent = "";
    const answer = await call("setup", { ...body(), dry_run: true });
    show(answer.diff);
  }, error), { class: "secondary" });
  const apply = button("tools.setup.apply", () => busy(apply, async () => {
    status.textContent = "";
    const answer = await call("setup", body());
    show(answer.diff);
    const done = answer.backups.length
      ? t("tools.setup.done", { paths: list(answer.paths) })
      : t("tools.setup.unchanged");
    status.textContent = answer.key_created ? `${done} ${t("tools.setup.key-created")}` : done;
  }, error));
  const undo = button("tools.setup.undo", () => busy(undo, async () => {
    status.textContent = "";
    const answer = await call("undo", {});
    diff.hidden = diffHead.hidden = true;
    status.textContent = t("tools.setup.undone", { paths: list(answer.restored.map((r) => r.path)) });
  }, error), { class: "secondary" });
  const section = h("section", { class: "tool-setup" },
    h("h3", {}, t("tools.setup.title")),
    paths,
    h("p", { class: "muted" }, t("tools.setup.key-note")),
    h("div", { class: "row" }, preview, apply, undo),
    status, error, diffHead, diff);
  section.setPaths = (names) => {
    paths.textContent = t("tools.setup.where", { paths: list(names) });
  };
  return section;
}

export default async function render(root, ctx) {
  const base = h("input", { type: "url", name: "base-url", spellcheck: false, dir: "ltr", value: location.origin });
  const key = h("input", { type: "password", name: "client-key", autocomplete: "off", spellcheck: false, dir: "ltr",
    placeholder: KEY_PLACEHOLDER });
  key.value = sessionStorage.getItem(KEY_STORAGE) || "";
  const modelSlot = h("div");
  const note = h("p", { class: "muted" });
  const wire = select([["responses", "responses"], ["chat", "chat"]], "responses", { name: "codex-wire" });
  const copilotApi = select(COPILOT_APIS.map(([v]) => [v, v]), "chat-completions", { name: "copilot-api" });
  const cards = h("div");
  let shown = TOOLS[0].id;
  const showTool = () => {
    const { name } = TOOLS.find((tool) => tool.id === shown);
    for (const card of cards.children) card.hidden = card.dataset.tool !== name;
  };
  const toolTabs = tabs(TOOLS, (id) => {
    shown = id;
    showTool();
  });
  const copilotBody = h("div");
  let models = [];
  let model = select([[MODEL_PLACEHOLDER, MODEL_PLACEHOLDER]], MODEL_PLACEHOLDER, { name: "model" });
  const checked = new Set();

  root.append(
    pageHead("tools.title"),
    h("p", { class: "muted" }, t("tools.intro")),
    h("section", { class: "card" },
      h("div", { class: "form-grid" },
        field("tools.base-url", base, "tools.base-url-hint"),
        field("tools.key", key, "tools.key-hint"),
        modelSlot),
      note),
    toolTabs,
    cards);

  const values = () => {
    const url = (base.value.trim() || location.origin).replace(/\/+$/, "");
    return { url, v1: `${url}/v1`, key: key.value.trim() || KEY_PLACEHOLDER, model: model.value };
  };

  // What a setup sends: the page's URL, model and (if pasted) key.
  const setupBody = () => {
    const v = values();
    const fields = { url: v.url };
    if (models.includes(v.model)) fields.model = v.model;
    if (key.value.trim()) fields.key = key.value.trim();
    return fields;
  };
  const setups = new Map(TOOLS.filter((tool) => tool.setup).map((tool) => [tool.id, setupSection(tool.id, setupBody)]));
  const section = (id) => setups.get(id);

  function copilotJson() {
    const { url, key: secret } = values();
    const path = COPILOT_APIS.find(([v]) => v === copilotApi.value)[1];
    const chosen = models.filter((m) => checked.has(m));
    return json([{
      name: "OmniRoute",
      vendor: "customendpoint",
      apiKey: secret,
      apiType: copilotApi.value,
      models: chosen.map((id) => ({
        id,
        name: id,
        url: `${url}${path}`,
        toolCalling: true,
        vision: false,
        maxInputTokens: 128000,
        maxOutputTokens: 16000,
      })),
    }]);
  }

  function downloadCopilot() {
    const blob = new Blob([copilotJson() + "\n"], { type: "application/json" });
    const href = URL.createObjectURL(blob);
    const link = h("a", { href, download: COPILOT_FILE, class: "visually-hidden" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 1000);
  }

  function drawCopilot() {
    const legend = uid("copilot-models");
    const list = h("div", { role: "group", "aria-labelledby": legend }, h("h3", { id: legend }, t("tools.copilot.models")));
    for (const id of models) {
      const input = h("input", { type: "checkbox", checked: checked.has(id), value: id });
      input.addEventListener("change", () => {
        if (input.checked) checked.add(id);
        else checked.delete(id);
        drawCopilotFile();
      });
      list.append(h("label", { class: "check" }, input, id));
    }
    if (!models.length) list.append(h("p", { class: "muted" }, t("tools.no-models")));
    clear(copilotBody, field("tools.copilot.api", copilotApi), list, h("div", { dataset: { copilotFile: "" } }));
    drawCopilotFile();
  }

  function drawCopilotFile() {
    const text = copilotJson();
    const slot = copilotBody.querySelector("[data-copilot-file]");
    clear(slot,
      h("p", { class: "muted" }, t("tools.copilot.where", { file: COPILOT_FILE })),
      h("pre", { tabindex: "0", dir: "ltr" }, h("code", {}, text)),
      h("div", { class: "row" },
        button("tools.copilot.copy", () => copyText(copilotJson()), { class: "secondary" }),
        button("tools.copilot.download", downloadCopilot, { class: "secondary" })),
      h("p", { class: "muted" }, t("tools.copilot.key-note")));
  }

  function draw() {
    // Redrawing moves the selects inside the cards: keep their focus.
    const focused = document.activeElement;
    const v = values();
    const claudeEnv = {
      ANTHROPIC_BASE_URL: v.url,
      ANTHROPIC_AUTH_TOKEN: v.key,
      ANTHROPIC_MODEL: v.model,
      ANTHROPIC_DEFAULT_OPUS_MODEL: v.model,
      ANTHROPIC_DEFAULT_SONNET_MODEL: v.model,
      ANTHROPIC_DEFAULT_HAIKU_MODEL: v.model,
      CLAUDE_CODE_SUBAGENT_MODEL: v.model,
    };
    const exports = (vars) => Object.entries(vars).map(([n, value]) => `export ${n}=${sh(value)}`).join("\n");
    const codex = [
      `model = ${toml(v.model)}`,
      `model_provider = "${PROVIDER_ID}"`,
      "",
      `[model_providers.${PROVIDER_ID}]`,
      'name = "OmniRoute"',
      `base_url = ${toml(v.v1)}`,
      'env_key = "OMNIROUTE_API_KEY"',
      `wire_api = "${wire.value}"`,
    ].join("\n");
    const allModels = models.length ? models : [v.model];
    const opencode = {
      $schema: "https://opencode.ai/config.json",
      provider: {
        [PROVIDER_ID]: {
          npm: "@ai-sdk/openai-compatible",
          name: "OmniRoute",
          options: { baseURL: v.v1, apiKey: v.key },
          models: Object.fromEntries(allModels.map((m) => [m, { name: m }])),
        },
      },
      model: `${PROVIDER_ID}/${v.model}`,
    };
    const openclaw = {
      models: {
        mode: "merge",
        providers: {
          [PROVIDER_ID]: {
            baseUrl: v.v1,
            apiKey: v.key,
            api: "openai-completions",
            models: allModels.map((m) => ({ id: m, name: m })),
          },
        },
      },
      agents: { defaults: { model: { primary: `${PROVIDER_ID}/${v.model}` } } },
    };
    const extensionRows = [
      [t("tools.ext.provider"), "OpenAI Compatible"],
      [t("tools.ext.base-url"), v.v1],
      [t("tools.ext.key"), v.key],
      [t("tools.ext.model"), v.model],
    ];

    clear(cards,
      toolCard("Claude Code", "tools.claude.intro",
        snippet("~/.claude/settings.json", json({ env: claudeEnv })),
        snippet("~/.bashrc, ~/.zshrc", exports(claudeEnv)), section("claude")),
      toolCard("Codex CLI", "tools.codex.intro",
        field("tools.codex.wire", wire, "tools.codex.wire-hint"),
        snippet("~/.codex/config.toml", codex),
        snippet("~/.bashrc, ~/.zshrc", exports({ OMNIROUTE_API_KEY: v.key })), section("codex")),
      toolCard("Gemini CLI", "tools.gemini.intro",
        snippet("~/.gemini/.env",
          `GOOGLE_GEMINI_BASE_URL=${v.url}\nGEMINI_API_KEY=${v.key}\nGEMINI_MODEL=${v.model}`),
        snippet("~/.gemini/settings.json",
          json({ security: { auth: { selectedType: "gemini-api-key" } }, model: { name: v.model } })),
        section("gemini")),
      toolCard("OpenCode", "tools.opencode.intro",
        snippet("~/.config/opencode/opencode.json", json(opencode)), section("opencode")),
      toolCard("Cline", "tools.cline.intro", settingsForm(t("tools.cline.where"), extensionRows), section("cline")),
      toolCard("Kilo Code", "tools.kilo.intro", settingsForm(t("tools.kilo.where"), extensionRows), section("kilo")),
      toolCard("OpenClaw", "tools.openclaw.intro",
        snippet("~/.openclaw/openclaw.json", json(openclaw)), section("openclaw")),
      toolCard("GitHub Copilot", "tools.copilot.intro", copilotBody));
    showTool();
    drawCopilot();
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus();
  }

  /** ``loaded``: the names are the gateway's answer (not the first draw's placeholder). */
  function setModels(names, loaded = true) {
    models = names;
    const options = names.length ? names : [MODEL_PLACEHOLDER];
    model = select(options, options[0], { name: "model" });
    model.addEventListener("change", () => {
      // The chosen model is offered to Copilot too.
      if (models.includes(model.value)) checked.add(model.value);
      draw();
    });
    if (names.length) checked.add(names[0]);
    clear(modelSlot, field("tools.model", model, "tools.model-hint"));
    note.textContent = names.length || !loaded ? "" : t("tools.no-models");
  }

  base.addEventListener("input", draw);
  key.addEventListener("input", () => {
    if (key.value) sessionStorage.setItem(KEY_STORAGE, key.value);
    else sessionStorage.removeItem(KEY_STORAGE);
    draw();
  });
  wire.addEventListener("change", draw);
  copilotApi.addEventListener("change", drawCopilotFile);

  setModels([], false);
  draw();
  let names;
  try {
    const [loaded, setupFiles] = await Promise.all([loadModels(), get("/api/tools")]);
    names = loaded;
    for (const { tool, paths } of setupFiles.tools) setups.get(tool)?.setPaths(paths);
  } catch (error) {
    // The snippets still work with a model typed in by hand.
    if (!ctx.signal.aborted) note.textContent = error.message;
    return;
  }
  if (ctx.signal.aborted) return;
  setModels(names);
  draw();
}
