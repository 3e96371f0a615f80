// The one live socket of the page: stats, events, log lines and datapoint changes.
// Reconnects by itself and re-sends what the page subscribed to. While it is down a
// banner says so (figures on the page are stale); before each attempt the session is
// checked, and a page whose session is gone (logout elsewhere, a restarted admin UI,
// close code 4401) goes to the login page.
import {sessionRenewed} from "./api.js";

const listeners = new Map();
let socket = null;
let prefixes = [];
let addresses = [];  // exact datapoints (a dashboard's widgets), up to 2000
let logsOf = null;
let retry = 500;
const UNAUTHORIZED = 4401;

export const state = {instances: [], mode: "normal", panic: null, history: {}, user: null,
                      role: null};

export function on(type, fn) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(fn);
  if (type === "stats") soonWantStats();
  return () => {
    listeners.get(type).delete(fn);
    if (type === "stats") soonWantStats();
  };
}

// The 1 Hz stats come only while the page shows them (something listens) in a visible
// tab: with no page wanting them the supervisor skips its full stats pass (issue 16).
// Debounced, so a page change (old page off, new one on) sends nothing.
let statsOn = true;  // what the server assumes for a new socket
let statsTimer = null;
function soonWantStats() {
  clearTimeout(statsTimer);
  statsTimer = setTimeout(wantStats, 300);
}
function wantStats() {
  const on = (listeners.get("stats")?.size || 0) > 0 && !document.hidden;
  if (on !== statsOn && socket && socket.readyState === WebSocket.OPEN) {
    statsOn = on;
    send({op: "stats", on});
  }
}
document.addEventListener("visibilitychange", soonWantStats);

function emit(type, msg) {
  for (const fn of listeners.get(type) || []) {
    try { fn(msg); } catch (e) { console.error(e); }
  }
}

function send(doc) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(doc));
}

export function subscribe(list, exact = []) {
  prefixes = [...new Set(list.filter((p) => p))].slice(0, 50);
  addresses = [...new Set(exact.filter((a) => a))].slice(0, 2000);
  send({op: "subscribe", prefixes, addresses});
}

export function followLogs(id) {
  logsOf = id || null;
  send({op: "logs", id: logsOf});
}

const HISTORY = 180;

function remember(instances, ts) {
  for (const i of instances) {
    const h = state.history[i.id] || (state.history[i.id] = []);
    h.push([ts, i.cpu_percent || 0, i.memory_mb || 0, i.pps_in || 0, i.pps_out || 0]);
    if (h.length > HISTORY) h.splice(0, h.length - HISTORY);
  }
}

export function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${proto}//${location.host}/api/ws`);
  socket.onopen = () => {
    retry = 500;
    document.getElementById("live-dot").classList.add("on");
    document.getElementById("conn-banner").hidden = true;
    if (prefixes.length || addresses.length) send({op: "subscribe", prefixes, addresses});
    if (logsOf) send({op: "logs", id: logsOf});
    statsOn = true;
    wantStats();
    emit("open", {});
  };
  socket.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "hello") {
      state.history = msg.history || {};
      state.mode = msg.mode;
      state.panic = msg.panic || null;
      emit("mode", {mode: msg.mode, ...(msg.panic || {})});
    } else if (msg.type === "stats") {
      state.instances = msg.instances;
      remember(msg.instances, msg.ts || Date.now());
      if (msg.mode && msg.mode !== state.mode) {
        state.mode = msg.mode;
        emit("mode", {mode: msg.mode});
      }
    } else if (msg.type === "mode") {
      state.mode = msg.mode;
      state.panic = msg.mode === "panic" ? msg : null;
    }
    emit(msg.type, msg);
  };
  socket.onclose = (ev) => {
    document.getElementById("live-dot").classList.remove("on");
    socket = null;
    if (ev.code === UNAUTHORIZED) {  // this session ended; a password change may be
      sessionRenewed().then(reconnect);  // bringing a new one: login if not
      return;
    }
    document.getElementById("conn-banner").hidden = false;
    setTimeout(reconnect, retry);
    retry = Math.min(retry * 2, 5000);
  };
}

// Before a new socket: is the admin UI back, and is the session still good?
async function reconnect() {
  let res;
  try {
    res = await fetch("/api/session", {credentials: "same-origin", cache: "no-store"});
  } catch (e) {
    setTimeout(reconnect, retry);  // not back yet
    retry = Math.min(retry * 2, 5000);
    return;
  }
  if (res.status === 401) {
    window.location.href = "/login";
    return;
  }
  connect();
}
