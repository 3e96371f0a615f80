// REST calls: JSON in and out, the CSRF token on writes, /login on a lost session.
let csrf = null;

export class ApiError extends Error {
  constructor(status, message, detail) {
    super(message);
    this.status = status;
    this.detail = detail;
  }
}

export async function loadSession() {
  const doc = await api("GET", "/api/session");
  csrf = doc.csrf;
  return doc;
}

export async function api(method, path, body) {
  const opts = {method, headers: {}, credentials: "same-origin"};
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (method !== "GET" && csrf) opts.headers["X-CSRF-Token"] = csrf;
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, "the admin UI does not answer", null);
  }
  if (res.status === 401 && path !== "/api/login") {
    window.location.href = "/login";
    throw new ApiError(401, "logged out", null);
  }
  const text = await res.text();
  let doc = text;
  if ((res.headers.get("Content-Type") || "").includes("json")) {
    try { doc = text ? JSON.parse(text) : null; } catch (e) { doc = text; }
  }
  if (!res.ok) {
    const message = (doc && doc.error) || res.statusText;
    throw new ApiError(res.status, message, doc && doc.detail);
  }
  return doc;
}

export async function logout() {
  try { await api("POST", "/api/logout"); } finally { window.location.href = "/login"; }
}
