// The widget settings dialog: title, the datapoints it binds (a picker searching the
// datapoint tree, GET /api/datapoints?prefix=&q=) and the options of its kind.
import {api} from "../api.js";
import * as live from "../live.js";
import {dialog, fmtValue, h, parseValue} from "../ui.js";
import {KINDS} from "./dashboards-widgets.js";

const MAX_BINDINGS = 64;
const NUMERIC = new Set(["min", "max", "step", "digits", "stale_s", "range_s", "above"]);
const HELP = {stale_s: "seconds without an update before the value shows as stale",
              press: "value written on a press (JSON, default true)",
              release: "value written 0.3 s later (JSON; empty: none)",
              range_s: "time range shown first, in seconds", above: "active above this number (default: true is active)",
              url: "an image path on this server (else the bound blob datapoint)"};

function picker(bindMode, chosen) {
  const list = h("ul", {class: "dp-chosen"});
  const results = h("ul", {class: "dp-results", role: "listbox"});
  const search = h("input", {type: "search", class: "dp-search", placeholder: "search, e.g. bms_001.cells, or browse: bms_001.",
                             "aria-label": "search datapoints"});
  function drawChosen() {
    list.replaceChildren(...chosen.map((a, i) => h("li", {dataset: {address: a}},
      h("span", {class: "mono", text: a}),
      h("button", {type: "button", class: "btn small", "aria-label": `remove ${a}`,
                   onclick: () => { chosen.splice(i, 1); drawChosen(); }}, "×"))));
  }
  const choose = (address) => {
    if (bindMode === 1 || bindMode === "optional") chosen.splice(0, chosen.length, address);
    else if (!chosen.includes(address) && chosen.length < MAX_BINDINGS) chosen.push(address);
    drawChosen();
  };
  const leaf = (dp) => h("li", {role: "option", dataset: {address: dp.address}, onclick: () => choose(dp.address)},
    h("span", {class: "mono", text: dp.address}),
    h("span", {class: "muted", text: ` ${fmtValue(dp.value)} ${dp.unit || ""}`}));
  const node = (label, prefix, count) => h("li", {class: "dp-node", dataset: {prefix},
    onclick: () => { search.value = prefix; find(); }},
    h("span", {class: "mono", text: label}), h("span", {class: "muted", text: count === null ? "" : String(count)}));
  let seq = 0;
  // empty or ending in ".": browse that level of the tree; else search ("bms_001.cells"
  // searches for "cells" under the instance "bms_001.")
  async function find() {
    const mine = ++seq;
    const text = search.value.trim();
    try {
      if (text === "" || text.endsWith(".")) {
        const res = await api("GET", `/api/datapoints?${new URLSearchParams({prefix: text, limit: 200})}`);
        if (mine !== seq) return;
        const up = text ? text.slice(0, text.slice(0, -1).lastIndexOf(".") + 1) : null;
        results.replaceChildren(...(up === null ? [] : [node("↑ up", up, null)]),
          ...res.children.map((c) => node(`${c.name} ›`, c.prefix, c.count)),
          ...res.datapoints.map(leaf));
        return;
      }
      const dot = text.indexOf(".");
      const prefix = dot > 0 ? text.slice(0, dot + 1) : "";
      const q = prefix ? text.slice(prefix.length) : text;
      const res = await api("GET", `/api/datapoints?${new URLSearchParams({prefix, q, limit: 50})}`);
      if (mine !== seq) return;
      results.replaceChildren(...res.datapoints.map(leaf));
    } catch (e) {
      results.replaceChildren(h("li", {class: "error", text: e.message}));
    }
  }
  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(find, 200); });
  drawChosen();
  find();
  return h("div", {class: "dp-picker"},
    h("div", {class: "muted", text: bindMode === "many" ? "datapoints (click results to add)" : "datapoint (click a result)"}),
    list, search, results);
}

// resolves with the edited widget, or null when cancelled
export async function configure(widget) {
  const kind = KINDS[widget.type];
  const chosen = Object.values(widget.bindings || {}).map((b) => b.source);
  const o = {...(widget.options || {})};
  const title = h("input", {name: "title", value: widget.title || "", "aria-label": "title"});
  const fields = {};
  const rows = [h("label", {text: "Title"}), title];
  for (const name of kind.options) {
    let input;
    if (name === "instance") {
      input = h("select", {name}, live.state.instances.map((i) => h("option", {value: i.id, selected: o.instance === i.id}, i.id)));
    } else if (name === "text") {
      input = h("textarea", {name, rows: 3}, o.text || "");
    } else {
      const v = o[name];
      input = h("input", {name, type: NUMERIC.has(name) ? "number" : "text", step: "any",
                          value: v === undefined ? "" : (typeof v === "string" ? v : JSON.stringify(v))});
    }
    fields[name] = input;
    rows.push(h("label", {text: name.replace("_s", " (s)")}), input);
    if (HELP[name]) rows.push(h("div", {class: "help", text: HELP[name]}));
  }
  const body = [h("div", {class: "form-grid"}, rows)];
  if (kind.bind) body.push(picker(kind.bind, chosen));
  const ok = await dialog({title: `${kind.label} widget`, body,
    buttons: [{label: "Cancel", value: false}, {label: "OK", value: true, class: "primary"}]});
  if (!ok) return null;
  for (const [name, input] of Object.entries(fields)) {
    const raw = input.value.trim();
    if (raw === "") delete o[name];
    else if (NUMERIC.has(name)) o[name] = Number(raw);
    else if (name === "press" || name === "release") o[name] = parseValue(raw);
    else o[name] = raw;
  }
  const bindings = {};
  chosen.slice(0, MAX_BINDINGS).forEach((a, i) => { bindings[i === 0 ? "value" : `v${i + 1}`] = {source: a}; });
  return {...widget, title: title.value.trim() || widget.title || kind.label, bindings, options: o};
}
