// Error dashboard: recent uncaught errors with stack traces and repeat counts.
import {api} from "../api.js";
import * as live from "../live.js";
import {clear, fmtTime, h, showError} from "../ui.js";

export default {
  title: "Errors",
  mount(root, params) {
    const instance = params.get("instance") || "";
    const list = h("div", {id: "error-list"});
    root.append(h("div", {class: "toolbar"}, h("h1", {text: "Errors"}),
      instance ? h("span", {class: "badge", text: instance}) : null,
      h("span", {class: "spacer"}), h("a", {class: "btn", href: "#/logs"}, "Logs")), list);

    async function load() {
      try {
        const q = new URLSearchParams({n: 200});
        if (instance) q.set("instance", instance);
        const rows = await api("GET", `/api/errors?${q}`);
        clear(list);
        if (!rows.length) {
          list.append(h("p", {class: "empty", text: "No errors recorded."}));
          return;
        }
        list.append(...rows.map((e) => h("details", {class: "panel", dataset: {id: String(e.id)}},
          h("summary", {},
            h("span", {class: `badge ${e.fatal ? "status-error" : "status-backoff"}`,
                       text: e.fatal ? "fatal" : "error"}), " ",
            h("a", {href: `#/errors?instance=${encodeURIComponent(e.instance)}`, text: e.instance}),
            ` · ${fmtTime(e.last_ts)}`, e.count > 1 ? ` · ×${e.count}` : "", " · ",
            h("span", {class: "mono", text: e.message})),
          e.traceback ? h("pre", {class: "trace", text: e.traceback})
                      : h("p", {class: "muted", text: "no stack trace"}))));
      } catch (e) { showError(e); }
    }
    const off = live.on("error", load);
    load();
    return off;
  },
};
