// Translator playground: a request in one wire format, as the gateway would
// send it to an upstream of another (POST /api/translate); then, with a
// client key, both versions sent to the gateway's own client endpoints and
// their answers shown side by side.
import { get, post } from "../api.js";
import { badge, busy, button, clear, copyBox, field, h, pageHead, select, uid } from "../dom.js";
import { formatNumber, t } from "../i18n.js";

// The formats /api/translate accepts, in the gateway's order.
const FORMATS = [
  ["openai", "openai (Chat Completions)"],
  ["openai-responses", "openai-responses (Responses)"],
  ["anthropic", "anthropic (Messages)"],
  ["gemini", "gemini (generateContent)"],
];
// Where the client key is kept: this tab only, gone when it closes.
const KEY_STORAGE = "omniroute.client-key";
const EXAMPLE_MODEL = "your-model";

const SYSTEM = "You are a concise assistant. Use the tool when it helps.";
const QUESTION = "What is the weather in Paris right now?";
const TOOL = {
  name: "get_weather",
  description: "Current weather for a city",
  parameters: {
    type: "object",
    properties: { city: { type: "string", description: "City name" } },
    required: ["city"],
  },
};

/** A ready request in ``format`` with a system prompt, a user message and a tool. */
export function example(format) {
  switch (format) {
    case "openai-responses":
      return {
        model: EXAMPLE_MODEL,
        instructions: SYSTEM,
        input: [{ role: "user", content: QUESTION }],
        tools: [{ type: "function", ...TOOL }],
        max_output_tokens: 512,
      };
    case "anthropic":
      return {
        model: EXAMPLE_MODEL,
        max_tokens: 512,
        system: SYSTEM,
        messages: [{ role: "user", content: QUESTION }],
        tools: [{ name: TOOL.name, description: TOOL.description, input_schema: TOOL.parameters }],
      };
    case "gemini":
      // A Gemini body names no model: it goes in the URL.
      return {
        systemInstruction: { parts: [{ text: SYSTEM }] },
        contents: [{ role: "user", parts: [{ text: QUESTION }] }],
        tools: [{ functionDeclarations: [TOOL] }],
        generationConfig: { maxOutputTokens: 512 },
      };
    default:
      return {
        model: EXAMPLE_MODEL,
        messages: [
          { role: "system", content: SYSTEM },
          { role: "user", content: QUESTION },
        ],
        tools: [{ type: "function", function: TOOL }],
        max_tokens: 512,
      };
  }
}

const pretty = (value) => JSON.stringify(value, null, 2);

/** A copy box for code: JSON reads left to right in every language. */
function codeBox(text) {
  const box = copyBox(text);
  box.querySelector("pre").dir = "ltr";
  return box;
}

/** The client endpoint, headers and body for one request in ``format``. */
export function clientCall(format, body, model, key) {
  const sent = { ...body };
  delete sent.stream; // answers are read whole
  const headers = { "content-type": "application/json" };
  let path;
  if (format === "gemini") {
    delete sent.model;
    // A provider/model name keeps its slash: the route takes the rest of the path.
    path = `/v1beta/models/${encodeURIComponent(model).replaceAll("%2F", "/")}:generateContent`;
    headers["x-goog-api-key"] = key;
  } else {
    sent.model = model;
    if (format === "anthropic") {
      path = "/v1/messages";
      headers["x-api-key"] = key;
      headers["anthropic-version"] = "2023-06-01";
    } else {
      path = format === "openai" ? "/v1/chat/completions" : "/v1/responses";
      headers.authorization = `Bearer ${key}`;
    }
  }
  return { path, headers, body: sent };
}

function callText(name, args) {
  const shown = typeof args === "string" ? args : JSON.stringify(args ?? {});
  return `→ ${name}(${shown})`;
}

/** The answer's text (and tool calls, one per line) in any of the four formats. */
export function answerText(format, data) {
  if (!data || typeof data !== "object") return String(data ?? "");
  if (data.error) return data.error.message || pretty(data.error);
  const lines = [];
  const push = (text) => {
    if (text) lines.push(text);
  };
  if (format === "openai") {
    const message = data.choices?.[0]?.message || {};
    if (Array.isArray(message.content)) for (const part of message.content) push(part.text);
    else push(message.content);
    for (const call of message.tool_calls || []) push(callText(call.function?.name, call.function?.arguments));
  } else if (format === "openai-responses") {
    for (const item of data.output || []) {
      if (item.type === "message") for (const part of item.content || []) push(part.text);
      else if (item.type === "function_call") push(callText(item.name, item.arguments));
    }
  } else if (format === "anthropic") {
    for (const part of data.content || []) {
      if (part.type === "text") push(part.text);
      else if (part.type === "tool_use") push(callText(part.name, part.input));
    }
  } else {
    for (const part of data.candidates?.[0]?.content?.parts || []) {
      if (part.functionCall) push(callText(part.functionCall.name, part.functionCall.args));
      else if (!part.thought) push(part.text);
    }
  }
  return lines.join("\n");
}

async function send(format, body, model, key) {
  const call = clientCall(format, body, model, key);
  const started = performance.now();
  let status = 0;
  let data;
  try {
    const response = await fetch(call.path, {
      method: "POST",
      headers: call.headers,
      body: JSON.stringify(call.body),
      credentials: "omit",
    });
    status = response.status;
    const raw = await response.text();
    try {
      data = JSON.parse(raw);
    } catch {
      data = raw;
    }
  } catch (error) {
    data = { error: { message: error.message } };
  }
  return { format, path: call.path, status, ms: performance.now() - started, data };
}

function answerCard(title, result) {
  const ok = result.status >= 200 && result.status < 300;
  const headingId = uid("answer");
  const text = answerText(result.format, result.data);
  return h("section", { class: "card", "aria-labelledby": headingId, dataset: { answer: result.format } },
    h("h3", { id: headingId }, title),
    h("p", { class: "mono", dir: "ltr" }, `POST ${result.path}`),
    h("div", { class: "row" },
      badge(t("translator.status", { status: result.status || "—" }), ok ? "ok" : "bad"),
      badge(t("translator.latency", { ms: formatNumber(result.ms, { maximumFractionDigits: 0 }) }))),
    h("pre", { class: ok ? "" : "error-text", dir: "auto" }, text || t("translator.empty-answer")),
    h("details", {}, h("summary", {}, t("translator.raw")),
      h("pre", { dir: "ltr" }, typeof result.data === "string" ? result.data : pretty(result.data))));
}

async function knownModels() {
  // Only for suggestions: the model field takes any text.
  const [providers, combos] = await Promise.all([get("/api/providers"), get("/api/combos")]);
  const names = combos.combos.filter((c) => c.enabled).map((c) => c.name);
  for (const p of providers.providers) {
    if (p.enabled) for (const m of p.models) names.push(`${p.name}/${m}`);
  }
  return names;
}

export default async function render(root, ctx) {
  const from = select(FORMATS, "openai", { name: "from" });
  const to = select(FORMATS, "anthropic", { name: "to" });
  const input = h("textarea", { name: "request", rows: 16, spellcheck: false, dir: "ltr" });
  input.value = pretty(example(from.value));
  let shownExample = input.value;
  const error = h("p", { class: "error-text", role: "alert" });
  const output = h("div", { "aria-live": "polite" });
  let translated = null; // {from, to, body} of the last conversion

  from.addEventListener("change", () => {
    // Swap the example only if the user has not written their own request.
    if (input.value.trim() === shownExample.trim() || !input.value.trim()) {
      input.value = shownExample = pretty(example(from.value));
    }
  });

  function readRequest() {
    try {
      const body = JSON.parse(input.value);
      if (!body || typeof body !== "object" || Array.isArray(body)) throw new Error(t("translator.not-object"));
      return body;
    } catch (err) {
      throw new Error(t("translator.bad-json", { message: err.message }));
    }
  }

  async function convert() {
    const body = readRequest();
    const answer = await post("/api/translate", { from: from.value, to: to.value, body });
    translated = { from: from.value, to: to.value, body: answer.body };
    clear(output,
      h("h2", {}, t("translator.result", { format: to.value })),
      codeBox(pretty(answer.body)));
    return translated;
  }

  const convertButton = button("translator.convert", () => busy(convertButton, convert, error));
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      convertButton.click();
    }
  });
  const exampleButton = button("translator.load-example", () => {
    input.value = shownExample = pretty(example(from.value));
    input.focus();
  }, { class: "secondary" });

  // ---- send and compare
  const key = h("input", { type: "password", name: "client-key", autocomplete: "off", spellcheck: false, dir: "ltr",
    placeholder: "sk-omni-..." });
  key.value = sessionStorage.getItem(KEY_STORAGE) || "";
  key.addEventListener("input", () => {
    if (key.value) sessionStorage.setItem(KEY_STORAGE, key.value);
    else sessionStorage.removeItem(KEY_STORAGE);
  });
  const listId = uid("models");
  const model = h("input", { type: "text", name: "model", list: listId, autocomplete: "off", spellcheck: false,
    dir: "ltr" });
  const models = h("datalist", { id: listId });
  const sendError = h("p", { class: "error-text", role: "alert" });
  const answers = h("div", { class: "grid", "aria-live": "polite" });

  async function compare() {
    if (!key.value.trim()) throw new Error(t("translator.need-key"));
    if (!model.value.trim()) throw new Error(t("translator.need-model"));
    const original = readRequest();
    const done = await convert();
    clear(answers, h("p", { class: "muted" }, t("translator.sending")));
    const [first, second] = await Promise.all([
      send(done.from, original, model.value.trim(), key.value.trim()),
      send(done.to, done.body, model.value.trim(), key.value.trim()),
    ]);
    if (ctx.signal.aborted) return;
    clear(answers,
      answerCard(t("translator.original-answer", { format: first.format }), first),
      answerCard(t("translator.translated-answer", { format: second.format }), second));
  }
  const sendButton = button("translator.send", () => busy(sendButton, compare, sendError));

  root.append(
    pageHead("translator.title"),
    h("p", { class: "muted" }, t("translator.intro")),
    h("section", { class: "card" },
      h("div", { class: "form-grid" }, field("translator.from", from), field("translator.to", to)),
      field("translator.request", input, "translator.request-hint"),
      error,
      h("div", { class: "row" }, convertButton, exampleButton),
      output),
    h("section", { class: "card", "aria-labelledby": "compare-title" },
      h("h2", { id: "compare-title" }, t("translator.compare")),
      h("p", { class: "muted" }, t("translator.compare-intro")),
      h("div", { class: "form-grid" },
        field("translator.key", key, "translator.key-hint"),
        field("translator.model", model, "translator.model-hint")),
      models,
      sendError,
      h("div", { class: "row" }, sendButton),
      answers));

  try {
    const names = await knownModels();
    if (ctx.signal.aborted) return;
    for (const name of names) models.append(h("option", { value: name }));
    if (!model.value && names.length) model.value = names[0];
  } catch {
    // Suggestions only: the field still takes any model name.
  }
}
