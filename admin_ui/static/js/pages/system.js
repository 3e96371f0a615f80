// System: host CPU, RAM, disk, load, the performance profile and the mode.
import {api} from "../api.js";
import * as live from "../live.js";
import {panicText} from "../panic.js";
import {clear, fmtNum, h, showError} from "../ui.js";
import {historyPanel} from "../charts.js";
import {haPanel} from "./ha-panel.js";

function gauge(title, big, sub, share) {
  const cls = share >= 0.9 ? "hot" : share >= 0.75 ? "warm" : "";
  return h("div", {class: "panel gauge", dataset: {gauge: title}},
    h("div", {class: "muted", text: title}), h("div", {class: "big", text: big}),
    h("div", {class: "muted", text: sub}),
    share === null ? null : h("div", {class: `bar ${cls}`},
                              h("span", {style: `width:${Math.min(share, 1) * 100}%`})));
}

export default {
  title: "System",
  mount(root) {
    const box = h("div", {class: "gauges", id: "system-gauges"});
    root.append(h("div", {class: "toolbar"}, h("h1", {text: "System"})), box);
    async function load() {
      try {
        const s = await api("GET", "/api/system/resources");
        clear(box).append(
          gauge("CPU", `${fmtNum(s.cpu_percent)} %`, `${s.cpu_count} cores · load ` +
                `${(s.load_avg || []).map((l) => fmtNum(l, 2)).join(" ")}`, s.cpu_percent / 100),
          gauge("Memory", `${fmtNum(s.memory_percent)} %`,
                `${s.memory_used_mb} of ${s.memory_total_mb} MB`, s.memory_percent / 100),
          gauge("Disk", `${fmtNum(s.disk_percent)} %`,
                `${s.disk_used_gb} of ${s.disk_total_gb} GB`, s.disk_percent / 100),
          gauge("Performance profile", s.performance, "auto-detected or --performance", null),
          gauge("Mode", s.mode, s.mode === "panic" ? `device workers stopped, ${
            panicText(live.state.panic)}` : "routing active", null),
          s.admin_ui ? gauge("Admin UI", `${fmtNum(s.admin_ui.memory_mb)} MB`,
                             `pid ${s.admin_ui.pid} · ${s.admin_ui.websockets} live page(s)`, null) : "");
      } catch (e) { showError(e); }
    }
    load();
    const timer = setInterval(load, 2000);
    const history = historyPanel({title: "Instances over time"});
    const ha = haPanel();
    root.append(ha.el, history.el);
    return () => { clearInterval(timer); history.stop(); ha.stop(); };
  },
};
