// The dashboard's shell: language, theme, login, navigation and the router.
// Each page is its own module, loaded when first opened.
import { get, post, setCsrf } from "./api.js";
import { loginScreen, setupScreen } from "./auth.js";
import { clear, h, toast } from "./dom.js";
import { LANGUAGES, language, preferredLanguage, setLanguage, t } from "./i18n.js";

export const PAGES = [
  { id: "home", label: "nav.home" },
  { id: "providers", label: "nav.providers" },
  { id: "combos", label: "nav.combos" },
  { id: "keys", label: "nav.keys" },
  { id: "usage", label: "nav.usage" },
  { id: "logs", label: "nav.logs" },
  { id: "health", label: "nav.health" },
  { id: "translator", label: "nav.translator" },
  { id: "evals", label: "nav.evals" },
  { id: "tools", label: "nav.tools" },
  { id: "settings", label: "nav.settings" },
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const navToggle = document.getElementById("nav-toggle");
const logoutButton = document.getElementById("logout");
let pageAbort = null;
let signedIn = false;
let authState = {};

// ---- theme: follows the system until the user picks; the toggle cycles.
const THEMES = ["system", "dark", "light"];
function applyTheme(theme) {
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const button = document.getElementById("theme");
  button.dataset.state = theme;
  button.setAttribute("aria-label", `${t("shell.theme")}: ${t(`shell.theme.${theme}`)}`);
  button.title = button.getAttribute("aria-label");
}
function currentTheme() {
  return localStorage.getItem("omniroute.theme") || "system";
}
document.getElementById("theme").addEventListener("click", () => {
  const next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
  localStorage.setItem("omniroute.theme", next);
  applyTheme(next);
});

// ---- language
const languageSelect = document.getElementById("lang");
for (const l of LANGUAGES) languageSelect.append(h("option", { value: l.code, lang: l.code }, l.name));
languageSelect.addEventListener("change", async () => {
  await setLanguage(languageSelect.value, true);
  applyTheme(currentTheme());
  if (signedIn) {
    buildNav();
    route();
  } else {
    start();
  }
});

// ---- navigation
function buildNav() {
  const list = h("div");
  for (const page of PAGES) list.append(h("a", { href: `#/${page.id}`, dataset: { page: page.id } }, t(page.label)));
  clear(nav, list);
  nav.setAttribute("aria-label", t("shell.navigation"));
  nav.hidden = false;
  navToggle.hidden = false;
}
navToggle.addEventListener("click", () => {
  const open = !nav.classList.contains("open");
  nav.classList.toggle("open", open);
  navToggle.setAttribute("aria-expanded", String(open));
});

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  if (!signedIn) return;
  const [id = "home", ...params] = location.hash.replace(/^#\/?/, "").split("/");
  const page = PAGES.find((p) => p.id === id) || PAGES[0];
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.page === page.id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  nav.classList.remove("open");
  navToggle.setAttribute("aria-expanded", "false");
  pageAbort?.abort();
  pageAbort = new AbortController();
  const signal = pageAbort.signal;
  document.title = `${t(page.label)} · OmniRoute`;
  try {
    const module = await import(`./pages/${page.id}.js`);
    if (signal.aborted) return;
    const root = h("div", { class: "page", dataset: { page: page.id } });
    clear(main, root);
    await module.default(root, { params, signal, state: authState, navigate, refresh: route });
  } catch (error) {
    if (signal.aborted) return;
    clear(main, h("div", { class: "card" }, h("p", { class: "error-text", role: "alert" }, error.message)));
  }
}
window.addEventListener("hashchange", () => {
  route();
  main.focus({ preventScroll: true });
});

// ---- sign-in flow
async function start() {
  signedIn = false;
  nav.hidden = true;
  navToggle.hidden = true;
  logoutButton.hidden = true;
  authState = await get("/api/auth/state", { quiet401: true });
  setCsrf(authState.csrf);
  if (authState.setup_required) {
    await setupScreen(main, authState);
    authState.first_run = true;
    location.hash = "#/home";
  } else if (!authState.authenticated) {
    await loginScreen(main);
  }
  signedIn = true;
  logoutButton.hidden = false;
  buildNav();
  route();
}

logoutButton.addEventListener("click", async () => {
  try {
    await post("/api/auth/logout");
  } catch (error) {
    toast(error.message, "bad");
  }
  setCsrf(null);
  start();
});
window.addEventListener("omniroute:logged-out", () => {
  if (signedIn) {
    toast(t("auth.expired"), "bad");
    setCsrf(null);
    start();
  }
});

async function boot() {
  await setLanguage(preferredLanguage());
  languageSelect.value = language();
  applyTheme(currentTheme());
  await start();
}

boot().catch((error) => {
  clear(main, h("p", { class: "error-text", role: "alert" }, error.message));
});
