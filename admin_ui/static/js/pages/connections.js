// Connections: add (form generated from the type's JSON Schema), edit, delete,
// connect/disconnect.
import {api} from "../api.js";
import * as live from "../live.js";
import {clear, confirm, dialog, fmtNum, h, problemList, showError, toast} from "../ui.js";

// One form field per property of a JSON Schema object; returns [rows, read()].
function schemaFields(schema, values) {
  const rows = [];
  const readers = {};
  const required = new Set(schema.required || []);
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    const id = `cfg-${name}`;
    const current = values[name] !== undefined ? values[name] : prop.default;
    let input;
    if (prop.enum) {
      input = h("select", {id, name},
        required.has(name) ? null : h("option", {value: ""}, "–"),
        prop.enum.map((v) => h("option", {value: JSON.stringify(v), selected: v === current},
                                 String(v))));
      readers[name] = () => (input.value === "" ? undefined : JSON.parse(input.value));
    } else if (prop.type === "boolean") {
      input = h("input", {id, name, type: "checkbox", checked: current === true});
      readers[name] = () => input.checked;
    } else if (prop.type === "integer" || prop.type === "number") {
      input = h("input", {id, name, type: "number", step: prop.type === "integer" ? "1" : "any",
                          value: current ?? ""});
      readers[name] = () => (input.value === "" ? undefined : Number(input.value));
    } else if (prop.type === "string") {
      input = h("input", {id, name, value: current ?? ""});
      readers[name] = () => (input.value === "" ? undefined : input.value);
    } else {
      input = h("textarea", {id, name, rows: 3,
                             placeholder: "JSON", text: current === undefined ? ""
                               : JSON.stringify(current, null, 1)});
      readers[name] = () => {
        if (input.value.trim() === "") return undefined;
        try { return JSON.parse(input.value); } catch (e) {
          throw new Error(`${name}: not valid JSON`);
        }
      };
    }
    rows.push(h("label", {for: id, text: `${name}${required.has(name) ? " *" : ""}`}), input);
    if (prop.description) rows.push(h("div", {class: "help", text: prop.description}));
  }
  const read = () => {
    const out = {};
    for (const [name, fn] of Object.entries(readers)) {
      const v = fn();
      if (v !== undefined) out[name] = v;
    }
    return out;
  };
  return [rows, read];
}

async function editDialog(plugins, entry) {
  const editing = Boolean(entry);
  entry = entry || {enabled: true};
  const usable = plugins.filter((p) => p.enabled || p.name === entry.type);
  const typeSel = h("select", {id: "conn-type", disabled: editing},
    usable.map((p) => h("option", {value: p.name, selected: p.name === entry.type,
                                   title: p.description || ""}, p.name)));
  const idIn = h("input", {id: "conn-id", value: entry.id || "", disabled: editing,
                           pattern: "[A-Za-z0-9_.\\-]+", required: true});
  const nameIn = h("input", {id: "conn-name", value: entry.name || ""});
  const enabledIn = h("input", {id: "conn-enabled", type: "checkbox", checked: entry.enabled !== false});
  const criticalIn = h("input", {id: "conn-critical", type: "checkbox", checked: entry.critical === true});
  const limitsIn = h("textarea", {id: "conn-limits", rows: 2, placeholder: '{"max_ram_mb": 80}',
                                  text: entry.limits ? JSON.stringify(entry.limits) : ""});
  const cfgBox = h("div", {class: "form-grid"});
  const problems = h("div", {id: "conn-problems"});
  let readConfig = () => ({});
  const typeHelp = h("div", {class: "help"});
  const renderConfig = () => {
    const plugin = plugins.find((p) => p.name === typeSel.value);
    typeHelp.textContent = (plugin && plugin.description) || "";
    const [rows, read] = schemaFields((plugin && plugin.config_schema) || {}, entry.config || {});
    readConfig = read;
    clear(cfgBox).append(...rows);
  };
  typeSel.addEventListener("change", renderConfig);
  renderConfig();
  const body = [
    h("div", {class: "form-grid"},
      h("label", {for: "conn-type", text: "Type"}), typeSel, typeHelp,
      h("label", {for: "conn-id", text: "Id *"}), idIn,
      h("label", {for: "conn-name", text: "Name"}), nameIn,
      h("label", {for: "conn-enabled", text: "Enabled"}), enabledIn,
      h("label", {for: "conn-critical", text: "Critical"}), criticalIn,
      h("label", {for: "conn-limits", text: "Limits (JSON)"}), limitsIn),
    h("h2", {text: "Config"}), cfgBox, problems];
  for (;;) {
    const ok = await dialog({title: editing ? `Edit ${entry.id}` : "Add connection", body,
                             buttons: [{label: "Cancel", value: false},
                                       {label: editing ? "Save" : "Add", value: true,
                                        class: "primary"}]});
    if (!ok) return false;
    let doc;
    try {
      doc = {id: idIn.value.trim(), type: typeSel.value, enabled: enabledIn.checked,
             critical: criticalIn.checked, config: readConfig()};
      if (nameIn.value) doc.name = nameIn.value;
      if (limitsIn.value.trim()) doc.limits = JSON.parse(limitsIn.value);
      if (entry.failsafe) doc.failsafe = entry.failsafe;
    } catch (e) {
      clear(problems).append(problemList([e.message]));
      continue;
    }
    try {
      if (editing) await api("PUT", `/api/connections/${encodeURIComponent(entry.id)}`, doc);
      else await api("POST", "/api/connections", doc);
      toast(`${doc.id} saved`, "ok");
      return true;
    } catch (e) {
      clear(problems).append(h("p", {class: "error", text: e.message}),
                             problemList(Array.isArray(e.detail) ? e.detail : []));
    }
  }
}

export default {
  title: "Connections",
  mount(root) {
    let plugins = [];
    const list = h("div", {class: "cards", id: "connection-cards"});
    const addBtn = h("button", {type: "button", class: "btn primary admin-only", id: "add-connection",
                                onclick: async () => { if (await editDialog(plugins)) load(); }},
                     "+ Add connection");
    root.append(h("div", {class: "toolbar"}, h("h1", {text: "Connections"}),
                  h("span", {class: "spacer"}), addBtn), list);

    async function act(id, action) {
      try {
        const res = await api("POST", `/api/connections/${encodeURIComponent(id)}/${action}`);
        toast(`${id}: ${res.status}`, "ok");
      } catch (e) { showError(e); }
      load();
    }

    async function remove(id) {
      if (!await confirm(`Delete ${id}?`, "Its instance is stopped and the entry removed " +
                         "from connections.json (a backup is kept).", {danger: true, ok: "Delete"})) return;
      try {
        await api("DELETE", `/api/connections/${encodeURIComponent(id)}`);
        toast(`${id} deleted`, "ok");
      } catch (e) { showError(e); }
      load();
    }

    function card(c) {
      const rt = c.runtime || {};
      const status = rt.status || "stopped";
      const cfg = Object.entries(c.config || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("  ");
      return h("article", {class: `card st-${status}`, dataset: {id: c.id}},
        h("div", {class: "card-head"},
          h("div", {class: "card-title"}, h("strong", {text: c.name || c.id}),
            h("span", {class: "sub", text: `${c.id} · ${c.type}${c.enabled === false ? " · disabled" : ""}`})),
          h("span", {class: `badge status-badge status-${status}`, text: status.replaceAll("_", " ")})),
        h("div", {class: "mono muted", text: cfg || "no config"}),
        h("div", {class: "muted", dataset: {field: "traffic"},
                  text: `↑ ${fmtNum(rt.pps_out)} pkt/s  ↓ ${fmtNum(rt.pps_in)} pkt/s · errors ${rt.error_count ?? 0}`}),
        h("div", {class: "actions admin-only"},
          status === "disconnected" || !["running", "starting"].includes(status)
            ? h("button", {type: "button", class: "btn small", dataset: {action: "connect"},
                           onclick: () => act(c.id, "connect")}, "Connect")
            : h("button", {type: "button", class: "btn small", dataset: {action: "disconnect"},
                           onclick: () => act(c.id, "disconnect")}, "Disconnect"),
          h("button", {type: "button", class: "btn small", dataset: {action: "edit"},
                       onclick: async () => { if (await editDialog(plugins, c)) load(); }}, "Edit"),
          h("button", {type: "button", class: "btn small warn", dataset: {action: "delete"},
                       onclick: () => remove(c.id)}, "Delete")));
    }

    async function load() {
      try {
        const [doc, types] = await Promise.all([api("GET", "/api/connections"),
                                                api("GET", "/api/plugins")]);
        plugins = types;
        clear(list).append(...doc.connections.map(card));
        if (!doc.connections.length) list.append(h("p", {class: "empty", text: "No connections yet."}));
      } catch (e) {
        clear(list).append(h("p", {class: "error", text: e.message}));
      }
    }

    const update = () => {
      for (const inst of live.state.instances) {
        const el = list.querySelector(`[data-id="${CSS.escape(inst.id)}"] [data-field="traffic"]`);
        if (el) {
          el.textContent = `↑ ${fmtNum(inst.pps_out)} pkt/s  ↓ ${fmtNum(inst.pps_in)} pkt/s · errors ${inst.error_count}`;
        }
      }
    };
    const offs = [live.on("stats", update), live.on("state", () => load())];
    load();
    return () => offs.forEach((f) => f());
  },
};
