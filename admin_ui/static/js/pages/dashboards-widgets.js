// The widget kinds of the Dashboards page. Each kind builds its DOM once and then only
// updates text and attributes when a bound datapoint changes (no re-render per value).
// A widget's factory gets (body, widget, ctx) and returns {update(address, dp)} and, as it
// needs, tick(now), stats(instances), resize(), shown(), destroy(), everyValue; ctx offers
// write(address, value, statusEl, same), restart(id), canWrite, visible(), uPlot.
import {api} from "../api.js";
import {fmtNum, fmtValue, h} from "../ui.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

// a DOM write only when the text changes (an equal write still re-lays out the tile),
// and into the element's one text node: textContent would replace the node (a new
// layout object each time)
function setText(el, text) {
  const node = el.firstChild;
  if (node && node.nodeType === Node.TEXT_NODE && !node.nextSibling) {
    if (node.data !== text) node.data = text;
  } else if (el.textContent !== text) {
    el.textContent = text;
  }
}

export function sources(widget) {
  return Object.values(widget.bindings || {}).map((b) => b.source).filter(Boolean);
}

function first(widget) {
  return sources(widget)[0] || null;
}

function fmt(v, digits) {
  if (typeof v === "number") return digits === undefined ? String(Math.round(v * 1000) / 1000) : fmtNum(v, digits);
  return fmtValue(v);
}

// value: a number or text with its unit, coloured by quality, "stale" after stale_s
function value(body, w) {
  const o = w.options || {};
  const num = h("span", {class: "w-num", dataset: {field: "value"}, text: "–"});
  const unit = h("span", {class: "w-unit", text: o.unit || ""});
  const note = h("div", {class: "w-note muted"});
  body.append(h("div", {class: "w-big"}, num, unit), note);
  let last = null;
  return {
    update(address, dp) {
      last = dp;
      setText(num, fmt(dp.value, o.digits));
      if (!o.unit && dp.unit) setText(unit, dp.unit);
      setText(note, dp.quality && dp.quality !== "good" ? dp.quality : "");
    },
    tick(now) {
      const stale = last && o.stale_s && now - last.ts > o.stale_s * 1000;
      body.classList.toggle("stale", Boolean(stale));
      if (stale) setText(note, `stale: no update for ${Math.round((now - last.ts) / 1000)} s`);
    },
  };
}

// gauge: a 240 degree arc between min and max
function gauge(body, w) {
  const o = w.options || {};
  const lo = Number(o.min ?? 0), hi = Number(o.max ?? 100);
  const arc = (frac) => {
    const a0 = Math.PI * 7 / 6, a = a0 - frac * Math.PI * 4 / 3;
    const x0 = 50 + 40 * Math.cos(a0), y0 = 55 - 40 * Math.sin(a0);
    const x = 50 + 40 * Math.cos(a), y = 55 - 40 * Math.sin(a);
    return `M${x0.toFixed(2)},${y0.toFixed(2)} A40,40 0 ${frac > 0.75 ? 1 : 0} 1 ${x.toFixed(2)},${y.toFixed(2)}`;
  };
  const pic = svg("svg", {viewBox: "0 0 100 80", class: "w-gauge"});
  const track = svg("path", {d: arc(1), class: "g-track"});
  const fill = svg("path", {d: arc(0.0001), class: "g-fill"});
  const text = svg("text", {x: 50, y: 58, "text-anchor": "middle", class: "g-text"});
  const range = svg("text", {x: 50, y: 76, "text-anchor": "middle", class: "g-range"});
  text.textContent = "–";
  range.textContent = `${lo} … ${hi} ${o.unit || ""}`;
  pic.append(track, fill, text, range);
  body.append(pic);
  let drawn = "";
  return {
    update(address, dp) {
      const v = Number(dp.value);
      const frac = Math.min(1, Math.max(0.0001, (v - lo) / (hi - lo || 1)));
      const d = arc(frac);
      if (d !== drawn) { fill.setAttribute("d", d); drawn = d; }
      setText(text, `${fmt(dp.value, o.digits)}${o.unit || dp.unit ? " " + (o.unit || dp.unit) : ""}`);
    },
  };
}

// bar group: one bar per bound datapoint (e.g. 16 cell voltages) with min, max and delta
function bars(body, w) {
  const o = w.options || {};
  const list = sources(w);
  const values = new Map();
  const row = h("div", {class: "w-bars"});
  const cols = list.map((a, i) => {
    const fill = h("span", {class: "b-fill"});
    const col = h("div", {class: "b-col", title: a}, fill, h("span", {class: "b-label", text: String(i + 1)}));
    row.append(col);
    return {a, fill, col};
  });
  const stats = h("div", {class: "w-note", dataset: {field: "stats"}, text: "–"});
  body.append(row, stats);
  const unit = () => o.unit || "";
  function draw() {
    const vs = [...values.values()];
    if (!vs.length) return;
    const mn = Math.min(...vs), mx = Math.max(...vs);
    const lo = o.min ?? mn - (mx - mn || Math.abs(mn) * 0.01 || 1) * 0.5;
    const hi = o.max ?? mx + (mx - mn || Math.abs(mx) * 0.01 || 1) * 0.1;
    for (const c of cols) {
      const v = values.get(c.a);
      if (v === undefined) continue;
      const height = `${Math.max(2, Math.min(100, (v - lo) / (hi - lo || 1) * 100)).toFixed(1)}%`;
      if (c.fill.style.height !== height) c.fill.style.height = height;
      c.col.classList.toggle("b-min", v === mn);
      c.col.classList.toggle("b-max", v === mx);
    }
    const delta = unit() === "V" ? `${Math.round((mx - mn) * 1000)} mV` : `${fmt(mx - mn)} ${unit()}`;
    setText(stats, `min ${fmt(mn)} · max ${fmt(mx)} ${unit()} · Δ ${delta}`);
  }
  let queued = false;
  return {
    update(address, dp) {
      if (typeof dp.value === "number") values.set(address, dp.value);
      if (!o.unit && dp.unit) o.unit = dp.unit;
      if (!queued) { queued = true; queueMicrotask(() => { queued = false; draw(); }); }
    },
  };
}

// switch: writes true/false (1/0 to a numeric datapoint, which a device refuses a
// boolean for); shows the device's reported state, not the wish
function toggle(body, w, ctx) {
  const address = first(w);
  const btn = h("button", {type: "button", class: "w-switch", role: "switch", "aria-checked": "false",
                           disabled: !address || !ctx.canWrite},
                h("span", {class: "knob"}));
  const status = h("div", {class: "w-status", dataset: {field: "write"}});
  let on = false;
  let numeric = false;
  btn.addEventListener("click", () => {
    const wish = numeric ? (on ? 0 : 1) : !on;
    ctx.write(address, wish, status, (a, b) => Boolean(a) === Boolean(b));
  });
  body.append(h("div", {class: "w-row"}, btn, h("span", {class: "w-state", dataset: {field: "value"}, text: "–"})),
              status);
  return {
    update(a, dp) {
      on = Boolean(dp.value);
      numeric = typeof dp.value === "number";
      btn.setAttribute("aria-checked", String(on));
      btn.classList.toggle("on", on);
      setText(body.querySelector(".w-state"), on ? "on" : "off");
    },
  };
}

// button: momentary, writes the press value (and the release value after 300 ms if set)
function button(body, w, ctx) {
  const o = w.options || {};
  const address = first(w);
  const press = o.press ?? true;
  const status = h("div", {class: "w-status", dataset: {field: "write"}});
  const btn = h("button", {type: "button", class: "btn primary w-press", disabled: !address || !ctx.canWrite,
                           text: o.label || w.title || "Press"});
  btn.addEventListener("click", () => {
    ctx.write(address, press, status);
    if (o.release !== undefined) setTimeout(() => ctx.write(address, o.release, null), 300);
  });
  body.append(btn, status);
  return {update() {}};
}

// setpoint: a number input and a slider (min/max/step); "Set" writes it
function setpoint(body, w, ctx) {
  const o = w.options || {};
  const address = first(w);
  const lim = {min: o.min ?? 0, max: o.max ?? 100, step: o.step ?? "any"};
  const input = h("input", {type: "number", class: "w-input", "aria-label": `new value for ${address}`,
                            min: lim.min, max: lim.max, step: lim.step});
  const slider = h("input", {type: "range", class: "w-slider", "aria-label": `slider for ${address}`,
                             min: lim.min, max: lim.max, step: lim.step === "any" ? (lim.max - lim.min) / 100 : lim.step});
  const now = h("span", {class: "w-num small", dataset: {field: "value"}, text: "–"});
  const status = h("div", {class: "w-status", dataset: {field: "write"}});
  slider.addEventListener("input", () => { input.value = slider.value; });
  input.addEventListener("input", () => { slider.value = input.value; });
  const form = h("form", {class: "w-row", onsubmit: (ev) => {
    ev.preventDefault();
    if (!input.reportValidity()) return;
    ctx.write(address, Number(input.value), status);
  }}, input, h("button", {type: "submit", class: "btn small primary", disabled: !address || !ctx.canWrite}, "Set"));
  body.append(h("div", {class: "w-row"}, h("span", {class: "muted", text: "now"}), now,
                h("span", {class: "w-unit", text: o.unit || ""})), form, slider, status);
  let touched = false;
  input.addEventListener("focus", () => { touched = true; });
  return {
    update(a, dp) {
      setText(now, fmt(dp.value, o.digits));
      if (!touched && input.value !== String(dp.value)) { input.value = dp.value; slider.value = dp.value; }
    },
  };
}

// text: a fixed text, or the text of a bound datapoint
function text(body, w) {
  const o = w.options || {};
  const p = h("p", {class: "w-text", dataset: {field: "value"}, text: o.text || ""});
  body.append(p);
  return {update(a, dp) { setText(p, fmtValue(dp.value)); }};
}

// image: a blob datapoint, a base64 or data: URL value, or an image URL on this server
function image(body, w) {
  const o = w.options || {};
  const img = h("img", {class: "w-image", alt: w.title || "image", src: o.url || null});
  body.append(img);
  return {
    update(a, dp) {
      const v = dp.value;
      // a blob datapoint's value is {blob_bytes}: its bytes come from /api/blobs/<address>
      if (v && typeof v === "object" && "blob_bytes" in v) img.src = `/api/blobs/${encodeURIComponent(a)}?ts=${dp.ts || Date.now()}`;
      else if (typeof v === "string" && v.startsWith("data:image/")) img.src = v;
      else if (typeof v === "string" && /^[A-Za-z0-9+/=\s]+$/.test(v)) img.src = `data:${o.mime || "image/png"};base64,${v}`;
      else if (v && typeof v === "object" && v.data) img.src = `data:${v.mime || o.mime || "image/png"};base64,${v.data}`;
    },
  };
}

// alarm list: bound datapoints that are true (or above options.above) are active;
// acknowledging hides an alarm until it clears and comes back
function alarms(body, w) {
  const o = w.options || {};
  const active = new Map();  // address -> {ts, acked}
  const list = h("ul", {class: "w-alarms"});
  const none = h("p", {class: "muted", text: "no active alarms"});
  body.append(list, none);
  function draw() {
    const rows = [...active.entries()].filter(([, a]) => !a.acked);
    none.hidden = rows.length > 0;
    list.replaceChildren(...rows.map(([address, a]) => h("li", {class: "alarm", dataset: {address}},
      h("span", {class: "mono", text: address}),
      h("span", {class: "muted", text: new Date(a.ts).toLocaleTimeString()}),
      h("button", {type: "button", class: "btn small", onclick: () => { a.acked = true; draw(); }}, "Ack"))));
  }
  draw();
  return {
    update(address, dp) {
      const on = o.above !== undefined ? Number(dp.value) > o.above : dp.value === true;
      if (on && !active.has(address)) active.set(address, {ts: dp.ts || Date.now(), acked: false});
      if (!on) active.delete(address);
      draw();
    },
  };
}

// instance tile: state, CPU and RAM from the live stats, restart
function instance(body, w, ctx) {
  const o = w.options || {};
  const iid = o.instance;
  const state = h("span", {class: "badge", dataset: {field: "status"}, text: "–"});
  const cpu = h("span", {dataset: {field: "cpu"}, text: "–"});
  const ram = h("span", {dataset: {field: "ram"}, text: "–"});
  const restart = h("button", {type: "button", class: "btn small admin-only", onclick: () => ctx.restart(iid)}, "Restart");
  body.append(h("div", {class: "w-row"}, h("strong", {class: "mono", text: iid || "?"}), state),
              h("div", {class: "w-row small"}, h("span", {class: "muted", text: "CPU"}), cpu,
                h("span", {class: "muted", text: "RAM"}), ram), restart);
  return {
    stats(list) {
      const s = list.find((i) => i.id === iid);
      if (!s) return;
      setText(state, s.status);
      state.className = `badge status-${s.status}`;
      setText(cpu, `${fmtNum(s.cpu_percent)} %`);
      setText(ram, `${fmtNum(s.memory_mb)} MB`);
    },
    update() {},
  };
}

const TREND_MAX_POINTS = 20000;  // per chart: bounded whatever the range and rate
const TREND_DRAW_MS = 1000;
const RANGES = [["15 min", 900], ["1 h", 3600], ["6 h", 21600], ["24 h", 86400], ["7 d", 604800]];

// normalise a history answer: rows [ts, v] or [ts, min, avg, max, last] or objects
function historyPoints(doc) {
  const rows = Array.isArray(doc) ? doc : (doc && (doc.points || doc.data || doc.series)) || [];
  const out = [];
  for (const r of rows) {
    let ts, v;
    if (Array.isArray(r)) { ts = r[0]; v = r.length >= 4 ? r[2] : r[1]; }
    else if (r && typeof r === "object") { ts = r.ts ?? r.t; v = r.avg ?? r.value ?? r.v ?? r.last; }
    if (typeof ts !== "number" || v === null || v === undefined) continue;
    out.push([ts > 1e11 ? ts / 1000 : ts, Number(v)]);
  }
  return out;
}

// trend: uPlot over /api/history, live values appended; drag to zoom, double-click resets
function trend(body, w, ctx) {
  const o = w.options || {};
  const list = sources(w);
  const picker = h("select", {class: "w-range", "aria-label": "time range"},
    RANGES.map(([label, s]) => h("option", {value: s, selected: Number(o.range_s || 3600) === s}, label)));
  const note = h("div", {class: "w-note muted", dataset: {field: "history"}});
  const box = h("div", {class: "w-chart"});
  body.append(h("div", {class: "w-row"}, picker, note), box);
  let plot = null;
  // uPlot's aligned columns: times (s) and one column per series (null where it has none);
  // live values append at the end, so a frame costs no sort or rebuild
  let xs = [];
  let ys = list.map(() => []);
  let range = Number(picker.value);
  const colours = ["#1f6feb", "#cf222e", "#1a7f37", "#8250df", "#b35900"];

  function data() {
    const cut = Date.now() / 1000 - range;
    let drop = 0;
    while (drop < xs.length && xs[drop] < cut) drop += 1;
    drop = Math.max(drop, xs.length - TREND_MAX_POINTS);
    if (drop > 0) { xs.splice(0, drop); for (const y of ys) y.splice(0, drop); }
    return [xs, ...ys];
  }
  const legend = list.length > 1;
  let zoomed = false;  // a drag-zoom holds until a double-click or a new range
  box.addEventListener("dblclick", () => { zoomed = false; });
  const size = () => ({width: Math.max(120, box.clientWidth),
                       height: Math.max(60, box.clientHeight - (legend ? 26 : 0))});
  function draw() {
    if (!ctx.uPlot || !box.isConnected) return;
    if (plot && !ctx.visible()) return;  // drawn when it scrolls into view (shown)
    const {width, height} = size();
    if (!plot) {
      plot = new ctx.uPlot({width, height, legend: {show: legend}, cursor: {drag: {x: true}},
        scales: {x: {time: true}}, axes: [{}, {size: 50}],
        hooks: {setSelect: [(u) => { if (u.select.width > 0) zoomed = true; }]},
        series: [{}, ...list.map((a, i) => ({label: a.split(".").slice(-2).join("."),
                                              stroke: colours[i % colours.length], spanGaps: true}))]},
        data(), box);
      box.uplot = plot;  // what is plotted, for a look from the console (and the tests)
    } else {
      plot.setData(data(), !zoomed);
    }
  }
  async function load() {
    const to = Date.now(), from = to - range * 1000;
    const series = list.map(() => new Map());  // ts_s -> value, merged into columns below
    let missing = 0;
    await Promise.all(list.map(async (address, i) => {
      const q = new URLSearchParams({address, from, to, max_points: 600});
      try {
        for (const [t, v] of historyPoints(await api("GET", `/api/history?${q}`))) series[i].set(t, v);
      } catch (e) {
        if (e.status === 404 || e.status === 501) missing += 1; else note.textContent = e.message;
      }
    }));
    note.textContent = missing === list.length ? "no history yet (live values only)" : "";
    // history first, then what arrived live while it loaded
    list.forEach((a, i) => xs.forEach((t, k) => { if (ys[i][k] !== null) series[i].set(t, ys[i][k]); }));
    xs = [...new Set(series.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
    ys = series.map((m) => xs.map((t) => m.get(t) ?? null));
    draw();
  }
  picker.addEventListener("change", () => {
    range = Number(picker.value);
    zoomed = false;
    xs = [];
    ys = list.map(() => []);
    load();
  });
  load();
  // live points are drawn at most once per TREND_DRAW_MS: a redraw repaints the whole
  // chart, and a trend over minutes gains nothing from four redraws a second
  let drawnAt = 0, timer = 0, frame = 0;
  function drawSoon() {
    if (timer || frame) return;
    timer = setTimeout(() => {
      timer = 0;
      frame = requestAnimationFrame(() => { frame = 0; drawnAt = performance.now(); draw(); });
    }, Math.max(0, drawnAt + TREND_DRAW_MS - performance.now()));
  }
  return {
    everyValue: true,  // a trend needs every point, seen or not
    update(address, dp) {
      const i = list.indexOf(address);
      if (i < 0 || typeof dp.value !== "number" && typeof dp.value !== "boolean") return;
      const t = (dp.ts || Date.now()) / 1000;
      const last = xs.length - 1;
      if (last >= 0 && t === xs[last]) ys[i][last] = Number(dp.value);
      else if (last < 0 || t > xs[last]) {
        xs.push(t);
        ys.forEach((y, k) => y.push(k === i ? Number(dp.value) : null));
      }  // an older value than the newest shown is left out
      drawSoon();
    },
    resize() {
      if (plot) plot.setSize(size());
      else draw();
    },
    shown() { draw(); },
    destroy() { clearTimeout(timer); cancelAnimationFrame(frame); if (plot) plot.destroy(); },
  };
}

// kind -> {label, make, size [w, h], bind: how many datapoints (0, 1 or "many"), options}
export const KINDS = {
  value: {label: "Value", make: value, size: [2, 1], bind: 1, options: ["unit", "digits", "stale_s"]},
  gauge: {label: "Gauge", make: gauge, size: [3, 2], bind: 1, options: ["unit", "min", "max", "digits"]},
  bars: {label: "Bar group", make: bars, size: [6, 3], bind: "many", options: ["unit", "min", "max"]},
  switch: {label: "Switch", make: toggle, size: [2, 1], bind: 1, options: []},
  button: {label: "Button", make: button, size: [2, 1], bind: 1, options: ["label", "press", "release"]},
  setpoint: {label: "Setpoint", make: setpoint, size: [3, 2], bind: 1, options: ["unit", "min", "max", "step"]},
  text: {label: "Text", make: text, size: [3, 1], bind: "optional", options: ["text"]},
  trend: {label: "Trend chart", make: trend, size: [6, 3], bind: "many", options: ["range_s"]},
  alarms: {label: "Alarm list", make: alarms, size: [3, 2], bind: "many", options: ["above"]},
  instance: {label: "Instance", make: instance, size: [3, 2], bind: 0, options: ["instance"]},
  image: {label: "Image", make: image, size: [3, 3], bind: 1, options: ["url", "mime"]},
};

export async function instanceAction(iid, action) {
  return api("POST", `/api/admin/instances/${encodeURIComponent(iid)}/${action}`);
}
