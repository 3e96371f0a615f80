// Charts of recorded history with uPlot (vendored: static/vendor/uplot, loaded by
// index.html as the global uPlot). historyPanel(): CPU, RAM or packet rates of every
// instance over the last hour, day or week, from GET /api/history/instances.
import {api} from "./api.js";
import {clear, h, showError} from "./ui.js";

const METRICS = {cpu_percent: "CPU %", memory_mb: "RAM MB", pps_in: "packets in/s",
                 pps_out: "packets out/s"};
const RANGES = {"1 h": 3600, "24 h": 86400, "7 d": 7 * 86400};
const COLORS = ["#2f6fde", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989",
                "#0a7ea4", "#57606a", "#e16f24", "#116329"];

// A time chart: xs in seconds, one [label, ys] per series; the chart fills `el`. `span`
// ([from, to] in seconds): the x axis shows that whole range (the chosen hour, not the
// few seconds that happen to be recorded in it).
export function timeChart(el, title, unit, xs, series, span = null) {
  if (!window.uPlot) {
    el.append(h("p", {class: "muted", text: "charts need static/vendor/uplot"}));
    return null;
  }
  const width = Math.max(280, el.clientWidth || 600);
  const opts = {
    title, width, height: 240,
    scales: {x: span ? {time: true, range: () => span} : {time: true}},
    axes: [{}, {label: unit, size: 60}],
    series: [{}, ...series.map(([label], i) => ({
      label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false}))],
  };
  return new window.uPlot(opts, [xs, ...series.map(([, ys]) => ys)], el);
}

// Several [xs, ys] tables on one x axis (timestamps of all, nulls where one has none).
function join(tables) {
  if (window.uPlot && window.uPlot.join) return window.uPlot.join(tables);
  const xs = [...new Set(tables.flatMap(([t]) => t))].sort((a, b) => a - b);
  return [xs, ...tables.map(([t, ys]) => {
    const at = new Map(t.map((x, i) => [x, ys[i]]));
    return xs.map((x) => (at.has(x) ? at.get(x) : null));
  })];
}

export function historyPanel({ids = null, title = "History"} = {}) {
  const metric = h("select", {class: "history-metric", "aria-label": "metric"},
    Object.entries(METRICS).map(([k, v]) => h("option", {value: k, text: v})));
  const range = h("select", {class: "history-range", "aria-label": "time range"},
    Object.keys(RANGES).map((k) => h("option", {value: k, text: k})));
  const box = h("div", {class: "history-chart"});
  const el = h("section", {class: "panel history-panel"},
    h("div", {class: "toolbar"}, h("h2", {text: title}), h("span", {class: "spacer"}),
      metric, range), box);
  let chart = null;
  let stopped = false;

  async function load() {
    const now = Date.now();
    const from = now - RANGES[range.value] * 1000;
    try {
      const wanted = ids ? ids() : (await api("GET", "/api/admin/instances/stats"))
        .instances.map((i) => i.id);
      const docs = await Promise.all(wanted.map((id) => api("GET",
        `/api/history/instances?${new URLSearchParams({id, metric: metric.value, from,
                                                        to: now, max_points: 600})}`)
        .catch((e) => (e.status === 404 ? null : Promise.reject(e)))));
      if (stopped) return;
      const found = docs.filter((d) => d && d.points.length);
      if (chart) { chart.destroy(); chart = null; }
      clear(box);
      if (!found.length) {
        box.append(h("p", {class: "empty", text: "No history recorded yet."}));
        return;
      }
      const data = join(found.map((d) => [d.points.map((p) => p[0] / 1000),
                                          d.points.map((p) => (p[3] === null ? null
                                            : Math.round(p[2] * 100) / 100))]));
      chart = timeChart(box, "", METRICS[metric.value], data[0],
                        found.map((d, i) => [d.id, data[i + 1]]), [from / 1000, now / 1000]);
      box.dataset.series = String(found.length);
    } catch (e) { showError(e); }
  }

  metric.addEventListener("change", load);
  range.addEventListener("change", load);
  const timer = setInterval(load, 10_000);
  const onResize = () => chart && chart.setSize({width: Math.max(280, box.clientWidth),
                                                 height: 240});
  window.addEventListener("resize", onResize);
  setTimeout(load, 0);
  return {el, stop() {
    stopped = true;
    clearInterval(timer);
    window.removeEventListener("resize", onResize);
    if (chart) chart.destroy();
  }};
}
