// The one way pages talk to the server. Every call sends the session's CSRF
// token once it is known; a 401 means the session ended, and the app goes
// back to the login screen.
let csrf = null;

export class ApiError extends Error {
  constructor(status, kind, message) {
    super(message);
    this.status = status;
    this.kind = kind;
  }
}

export function setCsrf(token) {
  csrf = token || null;
}

export async function request(method, path, body, { headers = {}, raw = false, quiet401 = false } = {}) {
  const sent = { accept: "application/json", ...headers };
  if (csrf) sent["x-csrf-token"] = csrf;
  let payload;
  if (body !== undefined && body !== null) {
    if (typeof body === "string" || body instanceof Blob) {
      payload = body;
    } else {
      payload = JSON.stringify(body);
      sent["content-type"] = "application/json";
    }
  }
  const response = await fetch(path, { method, headers: sent, body: payload, credentials: "same-origin" });
  if (!response.ok) {
    let kind = "http_error";
    let message = `${response.status} ${response.statusText}`;
    try {
      const data = await response.json();
      const error = data.error || data;
      kind = error.kind || error.type || kind;
      message = error.message || message;
    } catch {
      /* not JSON: keep the status line */
    }
    if (response.status === 401 && !quiet401) window.dispatchEvent(new CustomEvent("omniroute:logged-out"));
    throw new ApiError(response.status, kind, message);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path, options) => request("GET", path, undefined, options);
export const post = (path, body, options) => request("POST", path, body ?? {}, options);
export const patch = (path, body, options) => request("PATCH", path, body, options);
export const put = (path, body, options) => request("PUT", path, body, options);
export const del = (path, options) => request("DELETE", path, undefined, options);

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
