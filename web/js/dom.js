// Small helpers to build the page with DOM calls (never innerHTML with data:
// names and messages from the server are always set as text).
import { t } from "./i18n.js";

/** h("button", {class: "small", onclick: fn}, "text", child…) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let nextId = 0;
export function uid(prefix = "f") {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A labelled form field: label text key, the control, optional hint key. */
export function field(labelKey, control, hintKey) {
  if (!control.id) control.id = uid();
  const label = h("label", { for: control.id, text: t(labelKey) });
  const parts = [label, control];
  if (hintKey) {
    const hint = h("div", { class: "hint", id: uid("hint"), text: t(hintKey) });
    control.setAttribute("aria-describedby", hint.id);
    parts.push(hint);
  }
  return h("div", { class: "field" }, parts);
}

export function checkbox(labelKey, checked, attrs = {}) {
  const input = h("input", { type: "checkbox", checked: !!checked, ...attrs });
  return { input, element: h("label", { class: "check" }, input, t(labelKey)) };
}

export function select(options, value, attrs = {}) {
  const el = h("select", attrs);
  for (const option of options) {
    const [optionValue, label] = Array.isArray(option) ? option : [option, option];
    el.append(h("option", { value: optionValue, selected: String(optionValue) === String(value) }, label));
  }
  return el;
}

export function button(labelKey, onclick, attrs = {}) {
  return h("button", { type: "button", onclick, ...attrs }, t(labelKey));
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

export function toast(message, kind = "") {
  const box = document.getElementById("toasts");
  const note = h("div", { class: `toast ${kind}` }, message);
  box.append(note);
  setTimeout(() => note.remove(), kind === "bad" ? 8000 : 4000);
}

/** Run ``action`` with ``control`` disabled; an error becomes a red toast
 * (or the text of ``errorBox``). Returns what the action returned, or undefined. */
export async function busy(control, action, errorBox) {
  if (control) control.disabled = true;
  if (errorBox) errorBox.textContent = "";
  try {
    return await action();
  } catch (error) {
    if (errorBox) errorBox.textContent = error.message;
    else toast(error.message, "bad");
    return undefined;
  } finally {
    if (control) control.disabled = false;
  }
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Without clipboard permission (plain http on a LAN address), fall back
    // to selecting a hidden field and the legacy copy command.
    const area = h("textarea", { class: "visually-hidden", readonly: true }, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  toast(t("common.copied"));
}

/** A block of text with a copy button beside it. */
export function copyBox(text, labelKey = "common.copy") {
  const code = h("pre", { tabindex: "0" }, h("code", {}, text));
  return h("div", { class: "copy-box" }, code, button(labelKey, () => copyText(text), { class: "secondary small" }));
}

/** A modal question; resolves true when confirmed. */
export function confirmDialog(message, confirmKey = "common.confirm", danger = true) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { "aria-modal": "true" });
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.append(
      h("p", {}, message),
      h("div", { class: "row" },
        button(confirmKey, () => done(true), { class: danger ? "danger" : "" }),
        button("common.cancel", () => done(false), { class: "secondary" })),
    );
    dialog.addEventListener("cancel", () => done(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A table from column definitions {key: labelKey, value: row => node|text}. */
export function table(columns, rows, { onRowClick, empty = "common.none" } = {}) {
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col" }, t(c.label))));
  const body = h("tbody");
  if (!rows.length) body.append(h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, t(empty))));
  for (const row of rows) {
    const tr = h("tr", {}, columns.map((c) => h("td", {}, c.value(row))));
    if (onRowClick) {
      tr.className = "clickable";
      tr.tabIndex = 0;
      tr.addEventListener("click", () => onRowClick(row));
      tr.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          onRowClick(row);
        }
      });
    }
    body.append(tr);
  }
  return h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), body));
}

/** Tabs: [{id, label}]; calls show(id) on change. Arrow keys move between tabs. */
export function tabs(items, show, initial) {
  const bar = h("div", { class: "tabs", role: "tablist" });
  const buttons = items.map((item) =>
    h("button", { type: "button", role: "tab", dataset: { tab: item.id }, onclick: () => pick(item.id) }, t(item.label)));
  function pick(id) {
    for (const b of buttons) {
      const on = b.dataset.tab === id;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
    }
    show(id);
  }
  bar.addEventListener("keydown", (event) => {
    const index = buttons.indexOf(document.activeElement);
    if (index < 0 || !["ArrowLeft", "ArrowRight"].includes(event.key)) return;
    const rtl = document.documentElement.dir === "rtl";
    const step = (event.key === "ArrowRight") !== rtl ? 1 : -1;
    const next = buttons[(index + step + buttons.length) % buttons.length];
    next.focus();
    pick(next.dataset.tab);
  });
  bar.append(...buttons);
  pick(initial || items[0].id);
  return bar;
}

export function pageHead(titleKey, ...actions) {
  return h("div", { class: "page-head" }, h("h1", {}, t(titleKey)), h("div", { class: "row" }, actions));
}
