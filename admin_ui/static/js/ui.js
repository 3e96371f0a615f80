// DOM helpers (text only, never HTML from data), formatting, toasts and dialogs.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") el.style.cssText = v;  // CSSOM: allowed by the CSP
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) { el.replaceChildren(); return el; }

export function fmtNum(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return Number(v).toFixed(digits);
}

export function fmtUptime(s) {
  if (!s) return "–";
  s = Math.floor(s);
  const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600),
        m = Math.floor(s % 3600 / 60), sec = s % 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

export function fmtTime(ms) {
  if (!ms) return "–";
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

export function fmtValue(v) {
  if (v === null || v === undefined) return "null";
  // 53.1 * 1.1 is 58.410000000000004 in floating point: show 58.41
  if (typeof v === "number" && !Number.isInteger(v)) return String(parseFloat(v.toPrecision(10)));
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

// A value typed by a person: JSON when it parses (42, true, "x"), else the text.
export function parseValue(text) {
  try { return JSON.parse(text); } catch (e) { return text; }
}

export function toast(message, kind = "") {
  const box = document.getElementById("toasts");
  const t = h("div", {class: `toast ${kind}`, role: "status", text: message});
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 7000 : 3500);
}

export function showError(e) {
  const extra = Array.isArray(e.detail) ? `: ${e.detail.join("; ")}` : "";
  toast(`${e.message}${extra}`, "error");
}

// A modal dialog. body: nodes; buttons: [{label, value, class}]; resolves with the value.
export function dialog({title, body = [], buttons, danger = false, onOpen = null}) {
  const dlg = document.getElementById("dialog");
  clear(dlg);
  dlg.className = `dialog${danger ? " danger" : ""}`;
  return new Promise((resolve) => {
    const done = (value) => { dlg.close(); resolve(value); };
    const btns = buttons.map((b) => h("button", {
      type: "button", class: `btn ${b.class || ""}`, dataset: {value: String(b.value)},
      onclick: () => done(b.value)}, b.label));
    dlg.append(h("div", {class: "d-body"}, h("h2", {text: title}), body),
               h("div", {class: "d-actions"}, btns));
    // a close event comes a task later: one for a dialog since re-opened is not ours
    dlg.onclose = () => { if (!dlg.open) resolve(null); };
    dlg.oncancel = () => resolve(null);
    dlg.showModal();
    if (onOpen) onOpen(dlg, btns);
  });
}

export function confirm(title, text, {danger = false, ok = "OK"} = {}) {
  return dialog({title, danger, body: [h("p", {text})],
                 buttons: [{label: "Cancel", value: false},
                           {label: ok, value: true, class: danger ? "danger" : "primary"}]});
}

// A sparkline as an SVG polyline over the last values.
export function sparkline(values, maxHint = 0) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 100 34");
  svg.setAttribute("preserveAspectRatio", "none");
  const line = document.createElementNS(ns, "polyline");
  svg.append(line);
  updateSparkline(svg, values, maxHint);
  return svg;
}

export function updateSparkline(svg, values, maxHint = 0) {
  const line = svg.firstChild;
  if (!values.length) { line.setAttribute("points", ""); return; }
  const max = Math.max(maxHint, ...values, 1e-9);
  const n = values.length;
  const pts = values.map((v, i) => {
    const x = n === 1 ? 100 : (i / (n - 1)) * 100;
    const y = 32 - (v / max) * 30;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  line.setAttribute("points", pts.join(" "));
}

export function problemList(errors = [], warnings = []) {
  return h("ul", {class: "problems"},
    errors.map((e) => h("li", {class: "error", text: e})),
    warnings.map((w) => h("li", {class: "warning", text: w})));
}
