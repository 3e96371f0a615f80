// Logs: one instance's lines (or all), filtered by level, following live.
import {api} from "../api.js";
import * as live from "../live.js";
import {clear, h, showError} from "../ui.js";

const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
const MAX_LINES = 2000;

function line(e) {
  const ts = new Date(e.ts).toLocaleTimeString();
  return h("div", {class: `l-${e.level}`}, h("span", {class: "ts", text: `${ts} `}),
           `${e.instance} ${e.level.padEnd(7)} ${e.line}`);
}

export default {
  title: "Logs",
  mount(root, params) {
    const instance = params.get("instance") || "";
    const level = params.get("level") || "";
    const box = h("div", {class: "log", id: "log-lines", role: "log"});
    const instSel = h("select", {id: "log-instance", "aria-label": "instance"},
      h("option", {value: ""}, "all instances"));
    const levelSel = h("select", {id: "log-level", "aria-label": "level"},
      h("option", {value: ""}, "any level"),
      LEVELS.map((l) => h("option", {value: l, selected: l === level}, `${l}+`)));
    const follow = h("input", {type: "checkbox", id: "log-follow", checked: Boolean(instance),
                               disabled: !instance});
    const nav = () => {
      const p = new URLSearchParams();
      if (instSel.value) p.set("instance", instSel.value);
      if (levelSel.value) p.set("level", levelSel.value);
      location.hash = `#/logs?${p}`;
    };
    instSel.addEventListener("change", nav);
    levelSel.addEventListener("change", nav);
    root.append(h("div", {class: "toolbar"}, h("h1", {text: "Logs"}), h("span", {class: "spacer"}),
      instSel, levelSel, h("label", {}, follow, "follow"),
      h("a", {class: "btn", href: "#/errors"}, "Error dashboard")), box);

    const rank = (l) => LEVELS.indexOf(l);
    const append = (entries) => {
      const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
      box.append(...entries.map(line));
      while (box.childElementCount > MAX_LINES) box.firstChild.remove();
      if (atEnd) box.scrollTop = box.scrollHeight;
    };

    api("GET", "/api/admin/instances/stats").then((s) => {
      instSel.append(...s.instances.map((i) => h("option", {value: i.id, selected: i.id === instance}, i.id)));
    }).catch(showError);
    const q = new URLSearchParams({n: 500});
    if (instance) q.set("instance", instance);
    if (level) q.set("level", level);
    api("GET", `/api/logs?${q}`).then((entries) => {
      clear(box);
      append(entries);
      if (!entries.length) box.append(h("div", {class: "ts", text: "no lines"}));
      box.scrollTop = box.scrollHeight;
    }).catch(showError);

    const setFollow = () => live.followLogs(follow.checked ? instance : null);
    follow.addEventListener("change", setFollow);
    setFollow();
    const off = live.on("log", (msg) => {
      if (!follow.checked || (level && rank(msg.entry.level) < rank(level))) return;
      append([msg.entry]);
    });
    return () => { off(); live.followLogs(null); };
  },
};
