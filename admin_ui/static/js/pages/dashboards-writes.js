// Writes from widgets: pending until the device reports the value back (ack true on the
// live feed) or the API answers with an outcome; failed with the reason otherwise.
// Never "confirmed" for a write the device refused or did not report.
import {api} from "../api.js";

const CONFIRM_TIMEOUT_MS = 10000;
const waiting = new Map();  // address -> {value, same, show, timer}

function sameValue(a, b) {
  if (a === b) return true;
  if (typeof a === "number" || typeof b === "number") return Number(a) === Number(b);
  return JSON.stringify(a) === JSON.stringify(b);
}

function showOn(el) {
  return (state, text) => {
    if (!el) return;
    el.dataset.state = state;
    el.className = `w-status ${state}`;
    el.textContent = state === "pending" ? "pending…" : state === "confirmed" ? "confirmed"
      : `failed: ${text}`;
  };
}

function reasonOf(e) {
  if (e.status === 504) return "timeout: the device did not answer";
  const detail = e.detail && (e.detail.reason || (typeof e.detail === "string" ? e.detail : null));
  return detail ? `${e.message} (${detail})` : e.message;
}

export async function write(address, value, statusEl, same = sameValue) {
  const show = showOn(statusEl);
  settle(address, "failed", "superseded by a newer write");
  show("pending");
  // a report may arrive before the PUT answers: remember it, decide after the answer
  const entry = {value, same, show, timer: null, inFlight: true, early: false};
  waiting.set(address, entry);
  let res;
  try {
    res = await api("PUT", `/api/datapoints/${encodeURIComponent(address)}`, {value});
  } catch (e) {
    if (waiting.get(address) === entry) waiting.delete(address);
    show("failed", reasonOf(e));
    return;
  }
  if (waiting.get(address) !== entry) return;  // superseded meanwhile
  entry.inFlight = false;
  // an API that waits for the device answers with the outcome
  const outcome = res && typeof res === "object" ? (res.outcome || res.result) : null;
  if (outcome === "confirmed" || (!outcome && entry.early)) { settle(address, "confirmed"); return; }
  if (outcome === "refused" || outcome === "timeout" || outcome === "failed") {
    settle(address, "failed", res.reason || res.error || outcome);
    return;
  }
  // else the command went out: wait for the device to report it back with ack true
  entry.timer = setTimeout(() => settle(address, "failed",
    "timeout: the device did not report the value back"), CONFIRM_TIMEOUT_MS);
}

function settle(address, state, text) {
  const w = waiting.get(address);
  if (!w) return;
  if (w.timer) clearTimeout(w.timer);
  waiting.delete(address);
  w.show(state, text);
}

// a change from the live feed: [address, value, ts, quality, ack]
export function seen(address, value, ack) {
  const w = waiting.get(address);
  if (!w || !ack || !w.same(value, w.value)) return;
  if (w.inFlight) w.early = true;
  else settle(address, "confirmed");
}

export function forgetAll() {
  for (const w of waiting.values()) clearTimeout(w.timer);
  waiting.clear();
}
