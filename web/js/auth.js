// The screens before the dashboard: set the first password (only from a
// browser on the server itself), or the SSH instruction; then log in.
import { post, setCsrf } from "./api.js";
import { busy, clear, field, h } from "./dom.js";
import { t } from "./i18n.js";

const MIN_PASSWORD = 8;

function passwordInput(name, autocomplete) {
  return h("input", { type: "password", name, autocomplete, required: true, minlength: MIN_PASSWORD });
}

/** Resolves once a password is set (the server logs this browser in). */
export function setupScreen(root, state) {
  if (!state.local) {
    clear(root, h("section", { class: "card narrow", "aria-labelledby": "setup-title" },
      h("h1", { id: "setup-title" }, t("auth.setup.title")),
      h("p", {}, t("auth.setup.remote")),
      h("pre", {}, h("code", {}, "omniroute admin password")),
      h("p", { class: "muted" }, t("auth.setup.remote-after"))));
    return new Promise(() => {});
  }
  return new Promise((resolve) => {
    const password = passwordInput("password", "new-password");
    const again = passwordInput("again", "new-password");
    const error = h("p", { class: "error-text", role: "alert" });
    const submit = h("button", { type: "submit" }, t("auth.setup.submit"));
    const form = h("form", { class: "card narrow", "aria-labelledby": "setup-title" },
      h("h1", { id: "setup-title" }, t("auth.setup.title")),
      h("p", {}, t("auth.setup.intro")),
      field("auth.password", password, "auth.password-hint"),
      field("auth.password-again", again),
      error, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (password.value !== again.value) {
        error.textContent = t("auth.setup.mismatch");
        return;
      }
      const answer = await busy(submit, () => post("/api/auth/setup", { password: password.value }), error);
      if (answer) {
        setCsrf(answer.csrf);
        resolve(answer);
      }
    });
    clear(root, form);
    password.focus();
  });
}

/** Resolves once logged in. */
export function loginScreen(root) {
  return new Promise((resolve) => {
    const password = passwordInput("password", "current-password");
    const error = h("p", { class: "error-text", role: "alert" });
    const submit = h("button", { type: "submit" }, t("auth.login.submit"));
    const form = h("form", { class: "card narrow", "aria-labelledby": "login-title" },
      h("h1", { id: "login-title" }, t("auth.login.title")),
      field("auth.password", password), error, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const answer = await busy(submit, () =>
        post("/api/auth/login", { password: password.value }, { quiet401: true }), error);
      if (answer) {
        setCsrf(answer.csrf);
        resolve(answer);
      } else {
        password.select();
      }
    });
    clear(root, form);
    password.focus();
  });
}
