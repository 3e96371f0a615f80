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

// A password change ends this page's session; its answer brings the new cookie and
// CSRF token. A request that meets the old session before they are here (401) waits
// for the answer and goes once more, instead of sending the page to /login with the
// change done.
let renewal = Promise.resolve();
let renewing = 0;  // changes under way
let renewals = 0;  // changes answered: a 401 to a request sent before one is stale

// The request (a password change) whose answer replaces this page's session.
export function renewSession(method, path, body) {
  renewing += 1;
  const done = api(method, path, body, false).then((doc) => {
    csrf = doc.csrf;
    renewals += 1;
    return doc;
  }).finally(() => { renewing -= 1; });
  renewal = done.catch(() => {});
  return done;
}

// Settles once the session change under way, if any, has its answer.
export function sessionRenewed() {
  return renewal;
}

export async function api(method, path, body, retry = true) {
  const opts = {method, headers: {}, credentials: "same-origin"};
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (method !== "GET" && csrf) opts.headers["X-CSRF-Token"] = csrf;
  const sentAt = renewals;
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, "the admin UI does not answer", null);
  }
  if (res.status === 401 && path !== "/api/login") {
    if (retry && (renewing || renewals !== sentAt)) {
      await renewal;
      return api(method, path, body, false);
    }
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
