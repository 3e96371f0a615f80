// The app shell: session, header (mode, panic, user), hash router over the pages.
import {api, loadSession, logout} from "./api.js";
import * as live from "./live.js";
import {clear, showError, toast} from "./ui.js";
import {panicDialog, panicText, recover} from "./panic.js";
import instances from "./pages/instances.js";
import connections from "./pages/connections.js";
import datapoints from "./pages/datapoints.js";
import routes from "./pages/routes.js";
import logs from "./pages/logs.js";
import errors from "./pages/errors.js";
import system from "./pages/system.js";
import plugins from "./pages/plugins.js";
import users from "./pages/users.js";
import {changePassword} from "./account.js";
import dashboards from "./pages/dashboards.js";
import discover from "./pages/discover.js";
import satellites from "./pages/satellites.js";

const PAGES = {instances, connections, datapoints, routes, logs, errors, system, plugins};
PAGES.users = users;
PAGES.dashboards = dashboards;
PAGES.discover = discover;
PAGES.satellites = satellites;
let unmount = null;

function parseHash() {
  const [path, query] = (location.hash.replace(/^#\/?/, "") || "instances").split("?");
  return {page: path || "instances", params: new URLSearchParams(query || "")};
}

function route() {
  const {page, params} = parseHash();
  const mod = PAGES[page] || instances;
  if (unmount) { try { unmount(); } catch (e) { console.error(e); } }
  live.subscribe([]);
  live.followLogs(null);
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.page === page);
  }
  document.title = `${mod.title} · Edge OS`;
  const root = clear(document.getElementById("page"));
  root.dataset.page = page;
  if (!mayOpen(page)) {  // a typed-in address of a page the role has no link to
    root.append(Object.assign(document.createElement("p"), {className: "error", id: "page-refused",
      textContent: `The ${live.state.role} role may not open ${mod.title}.`}));
    unmount = null;
    return;
  }
  unmount = mod.mount(root, params) || null;
}

// the nav link's class says who may open a page (admin-only, no-operator)
function mayOpen(page) {
  const link = document.querySelector(`#nav a[data-page="${page}"]`);
  if (!link) return true;
  if (link.classList.contains("admin-only")) return live.state.role === "admin";
  return !(link.classList.contains("no-operator") && live.state.role === "operator");
}

function showMode(mode, record) {
  const badge = document.getElementById("mode-badge");
  badge.textContent = mode;
  badge.className = `badge mode-${mode}`;
  const banner = document.getElementById("panic-banner");
  banner.hidden = mode !== "panic";
  document.body.classList.toggle("in-panic", mode === "panic");
  document.getElementById("panic-button").disabled = mode === "panic";
  if (mode === "panic") {
    if (record && record.since) live.state.panic = record;
    document.getElementById("panic-text").textContent =
      `${panicText(live.state.panic)}. Every device worker is stopped.`;
  }
}

async function main() {
  let who;
  try {
    who = await loadSession();
  } catch (e) {
    return;  // api() went to /login
  }
  live.state.user = who.user;
  live.state.role = who.role;
  document.body.classList.add(`role-${who.role}`);
  document.getElementById("user-name").textContent = `${who.user} (${who.role})`;
  document.getElementById("logout-button").addEventListener("click", logout);
  document.getElementById("password-button").addEventListener("click", changePassword);
  document.getElementById("panic-button").addEventListener("click", panicDialog);
  document.getElementById("recover-button").addEventListener("click", recover);
  live.on("mode", (msg) => showMode(msg.mode, msg));
  live.on("open", () => api("GET", "/status").then((s) => showMode(s.mode, s.panic))
    .catch(showError));
  live.on("problem", (msg) => toast(msg.detail, "error"));
  window.addEventListener("hashchange", route);
  live.connect();
  route();
}

main();
