// Every visible string comes from /locales/<lang>.json by key. English is
// always loaded too, as the fallback for a key a translation lacks.
// Ordered by code. ``aliases`` are other tags a browser may send for the
// same language (old ISO codes, Norwegian's umbrella tag).
export const LANGUAGES = [
  { code: "en", name: "English" },
  { code: "ar", name: "العربية", rtl: true },
  { code: "bg", name: "Български" },
  { code: "da", name: "Dansk" },
  { code: "de", name: "Deutsch" },
  { code: "es", name: "Español" },
  { code: "fi", name: "Suomi" },
  { code: "fil", name: "Filipino", aliases: ["tl"] },
  { code: "fr", name: "Français" },
  { code: "he", name: "עברית", rtl: true, aliases: ["iw"] },
  { code: "hi", name: "हिन्दी" },
  { code: "hu", name: "Magyar" },
  { code: "id", name: "Bahasa Indonesia", aliases: ["in"] },
  { code: "it", name: "Italiano" },
  { code: "ja", name: "日本語" },
  { code: "ko", name: "한국어" },
  { code: "ms", name: "Bahasa Melayu" },
  { code: "nb", name: "Norsk bokmål", aliases: ["no", "nn"] },
  { code: "nl", name: "Nederlands" },
  { code: "pl", name: "Polski" },
  { code: "pt-BR", name: "Português (Brasil)" },
  { code: "pt-PT", name: "Português (Portugal)" },
  { code: "ro", name: "Română" },
  { code: "ru", name: "Русский" },
  { code: "sk", name: "Slovenčina" },
  { code: "sv", name: "Svenska" },
  { code: "th", name: "ไทย" },
  { code: "uk", name: "Українська" },
  { code: "vi", name: "Tiếng Việt" },
  { code: "zh-CN", name: "简体中文" },
];
const STORAGE = "omniroute.lang";
let strings = {};
let english = {};
let current = "en";

async function fetchLocale(code) {
  const response = await fetch(`/locales/${code}.json`);
  if (!response.ok) throw new Error(`locale ${code}: ${response.status}`);
  return response.json();
}

/** The saved choice, else the browser's language if we have it, else English. */
export function preferredLanguage() {
  const saved = localStorage.getItem(STORAGE);
  if (saved && LANGUAGES.some((l) => l.code === saved)) return saved;
  for (const wanted of navigator.languages || []) {
    const exact = LANGUAGES.find((l) => l.code.toLowerCase() === wanted.toLowerCase());
    if (exact) return exact.code;
    const primary = wanted.split("-")[0].toLowerCase();
    const base = LANGUAGES.find((l) => l.code.split("-")[0] === primary || (l.aliases || []).includes(primary));
    if (base) return base.code;
  }
  return "en";
}

export async function setLanguage(code, remember = false) {
  const language = LANGUAGES.find((l) => l.code === code) || LANGUAGES[0];
  if (!Object.keys(english).length) english = await fetchLocale("en");
  strings = language.code === "en" ? english : await fetchLocale(language.code);
  current = language.code;
  if (remember) localStorage.setItem(STORAGE, current);
  document.documentElement.lang = current;
  document.documentElement.dir = language.rtl ? "rtl" : "ltr";
  translateTree(document);
}

export function language() {
  return current;
}

/** The string for ``key`` with ``{name}`` placeholders filled from ``params``. */
export function t(key, params) {
  let text = strings[key] ?? english[key];
  if (text === undefined) {
    console.warn(`missing string: ${key}`);
    text = key;
  }
  if (params) text = text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
  return text;
}

/** Fill elements marked data-i18n (text), data-i18n-label (aria-label and
 * title) and data-i18n-placeholder below ``root``. */
export function translateTree(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
    el.title = t(el.dataset.i18nLabel);
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

export function formatNumber(value, options) {
  return new Intl.NumberFormat(current, options).format(value ?? 0);
}

export function formatTime(seconds) {
  if (seconds == null) return "—";
  return new Intl.DateTimeFormat(current, { dateStyle: "short", timeStyle: "medium" }).format(new Date(seconds * 1000));
}

export function formatMoney(value) {
  if (value == null) return "—";
  return new Intl.NumberFormat(current, { style: "currency", currency: "USD", maximumFractionDigits: 4 }).format(value);
}
