// Error dashboard: recent uncaught errors with stack traces and repeat counts.
import {api} from "../api.js";
import * as live from "../live.js";
import {clear, fmtTime, h, showError} from "../ui.js";

const WINDOW_MS = 24 * 3600 * 1000;  // supervisor/errors.py WINDOW_S

export default {
  title: "Errors",
  mount(root, params) {
    const instance = params.get("instance") || "";
    const list = h("div", {id: "error-list"});
    // the same count as the Instances card's "Errors 24 h": same store, same window
    const total = h("p", {id: "error-total", class: "muted"});
    root.append(h("div", {class: "toolbar"}, h("h1", {text: "Errors"}),
      instance ? h("span", {class: "badge", text: instance}) : null,
      h("span", {class: "spacer"}), h("a", {class: "btn", href: "#/logs"}, "Logs")), total, list);

    async function load() {
      try {
        const q = new URLSearchParams({n: 500});
        if (instance) q.set("instance", instance);
        const rows = await api("GET", `/api/errors?${q}`);
        const since = Date.now() - WINDOW_MS;
        const recent = rows.filter((e) => e.last_ts >= since);
        const n = recent.reduce((sum, e) => sum + e.count, 0);
        total.textContent = `${n} error${n === 1 ? "" : "s"} in the last 24 h` +
          (instance ? ` of ${instance}` : "") + (rows.length > recent.length
            ? `; older ones below the line are not counted` : "");
        clear(list);
        if (!rows.length) {
          list.append(h("p", {class: "empty", text: "No errors recorded."}));
          return;
        }
        const older = rows.find((e) => e.last_ts < since);
        list.append(...rows.map((e) => [e === older ? h("h2", {class: "older", text: "Older than 24 h"}) : null,
          h("details", {class: "panel", dataset: {id: String(e.id)}},
          h("summary", {},
            h("span", {class: `badge ${e.fatal ? "status-error" : "status-backoff"}`,
                       text: e.fatal ? "fatal" : "error"}), " ",
            h("a", {href: `#/errors?instance=${encodeURIComponent(e.instance)}`, text: e.instance}),
            ` · ${fmtTime(e.last_ts)}`, e.count > 1 ? ` · ×${e.count}` : "", " · ",
            h("span", {class: "mono", text: e.message})),
          e.traceback ? h("pre", {class: "trace", text: e.traceback})
                      : h("p", {class: "muted", text: "no stack trace"}))]).flat().filter(Boolean));
      } catch (e) { showError(e); }
    }
    const off = live.on("error", load);
    load();
    return off;
  },
};
