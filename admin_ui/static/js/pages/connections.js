// Connections: add and edit (a form generated from the type's JSON Schema, errors at
// their fields), delete, connect/disconnect.
import {api} from "../api.js";
import * as live from "../live.js";
import {FieldError, objectForm, showErrors} from "../schema-form.js";
import {clear, confirm, dialog, fmtNum, h, problemList, showError, toast} from "../ui.js";

// "connections.json: connections[3] (id 'x'): config.registers[1].address: -1 is less
// than the minimum of 0" (the supervisor), "id: 'a b' does not match ..." (the request
// check): the entry's field path ("config.registers[1].address") and the message.
// "'host' is a required property" is put at the missing field itself.
export function problemAt(problem, id) {
  let text = String(problem);
  const named = text.match(/^.*?connections\[\d+\] \(id '([^']*)'\): (.*)$/s);
  if (named) {
    if (named[1] !== id) return {path: "", message: text};
    text = named[2];
  }
  const m = text.match(/^([A-Za-z_][\w]*(?:\.[\w-]+|\[\d+\])*): (.*)$/s);
  if (!m) return {path: "", message: text};
  let [, path, message] = m;
  const missing = message.match(/^'([^']+)' is a required property$/);
  if (missing) { path = `${path}.${missing[1]}`; message = "required"; }
  return {path, message};
}

async function editDialog(plugins, entry) {
  const editing = Boolean(entry);
  entry = entry || {enabled: true};
  const usable = plugins.filter((p) => p.enabled || p.name === entry.type);
  const typeSel = h("select", {id: "conn-type", disabled: editing},
    h("option", {value: "", selected: !entry.type}, "– choose a type –"),
    usable.map((p) => h("option", {value: p.name, selected: p.name === entry.type,
                                   title: p.description || ""}, p.name)));
  const idIn = h("input", {id: "conn-id", value: entry.id || "", disabled: editing,
                           pattern: "[A-Za-z0-9_.\\-]+", required: true, autocomplete: "off"});
  const nameIn = h("input", {id: "conn-name", value: entry.name || ""});
  const enabledIn = h("input", {id: "conn-enabled", type: "checkbox", checked: entry.enabled !== false});
  const criticalIn = h("input", {id: "conn-critical", type: "checkbox", checked: entry.critical === true});
  const limitsIn = h("textarea", {id: "conn-limits", rows: 2, class: "json",
                                  placeholder: '{"max_ram_mb": 80}',
                                  text: entry.limits ? JSON.stringify(entry.limits) : ""});
  const slot = (path) => h("div", {class: "field-error", dataset: {path}, role: "alert"});
  const cfgBox = h("div", {id: "conn-config"});
  const problems = h("div", {id: "conn-problems"});
  let readConfig = () => ({});
  const typeHelp = h("div", {class: "help"});
  const renderConfig = () => {
    const plugin = plugins.find((p) => p.name === typeSel.value);
    typeHelp.textContent = (plugin && plugin.description) || "";
    clear(cfgBox);
    if (!plugin) {
      readConfig = () => ({});
      cfgBox.append(h("p", {class: "muted", text: "Choose a type: its settings appear here."}));
      return;
    }
    const schema = plugin.config_schema || {};
    const form = objectForm("cfg", "config", schema, schema,
                            entry.type === plugin.name ? entry.config || {} : {});
    readConfig = form.read;
    cfgBox.append(form.el);
  };
  typeSel.addEventListener("change", renderConfig);
  renderConfig();
  const body = [
    h("div", {class: "form-grid"},
      h("label", {for: "conn-type", text: "Type *"}), typeSel, slot("type"), typeHelp,
      h("label", {for: "conn-id", text: "Id *"}), idIn, slot("id"),
      h("label", {for: "conn-name", text: "Name"}), nameIn, slot("name"),
      h("label", {for: "conn-enabled", text: "Enabled"}), enabledIn,
      h("label", {for: "conn-critical", text: "Critical"}), criticalIn,
      h("label", {for: "conn-limits", text: "Limits (JSON)"}), limitsIn, slot("limits")),
    h("h2", {text: "Config"}), cfgBox, problems];
  const form = h("div", {id: "conn-form"}, body);
  const report = (errors) => {
    const left = showErrors(form, errors);
    clear(problems).append(problemList(left));
  };
  for (;;) {
    const ok = await dialog({title: editing ? `Edit ${entry.id}` : "Add connection", body: form,
                             onOpen: (dlg) => dlg.classList.add("wide"),
                             buttons: [{label: "Cancel", value: false},
                                       {label: editing ? "Save" : "Add", value: true,
                                        class: "primary"}]});
    if (!ok) return false;
    if (!typeSel.value) { report([{path: "type", message: "choose the type of device"}]); continue; }
    let doc;
    try {
      doc = {id: idIn.value.trim(), type: typeSel.value, enabled: enabledIn.checked,
             critical: criticalIn.checked, config: readConfig()};
      if (nameIn.value) doc.name = nameIn.value;
      if (entry.failsafe) doc.failsafe = entry.failsafe;
      if (limitsIn.value.trim()) {
        try { doc.limits = JSON.parse(limitsIn.value); } catch (e) {
          throw new FieldError("limits", "not valid JSON");
        }
      }
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      report([{path: e.path, message: e.reason}]);
      continue;
    }
    try {
      if (editing) await api("PUT", `/api/connections/${encodeURIComponent(entry.id)}`, doc);
      else await api("POST", "/api/connections", doc);
      toast(`${doc.id} saved`, "ok");
      return true;
    } catch (e) {
      const detail = Array.isArray(e.detail) ? e.detail : [];
      report(detail.length ? detail.map((p) => problemAt(p, doc.id))
        : [{path: "", message: e.message}]);
    }
  }
}

// A card's config summary: scalars as key=value, lists and objects by their size.
function summary(config) {
  return Object.entries(config || {}).map(([k, v]) => {
    if (Array.isArray(v)) return `${k}: ${v.length} item${v.length === 1 ? "" : "s"}`;
    if (v && typeof v === "object") return `${k}: {${Object.keys(v).join(", ")}}`;
    return `${k}=${JSON.stringify(v)}`;
  }).join("  ");
}

export default {
  title: "Connections",
  mount(root) {
    let plugins = [];
    const list = h("div", {class: "cards", id: "connection-cards"});
    // enabled once the types (and their schemas) are known
    const addBtn = h("button", {type: "button", class: "btn primary admin-only", id: "add-connection",
                                disabled: true,
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
      const cfg = summary(c.config);
      return h("article", {class: `card st-${status}`, dataset: {id: c.id}},
        h("div", {class: "card-head"},
          h("div", {class: "card-title"}, h("strong", {text: c.name || c.id}),
            h("span", {class: "sub", text: `${c.id} · ${c.type}${c.enabled === false ? " · disabled" : ""}`})),
          h("span", {class: `badge status-badge status-${status}`, text: status.replaceAll("_", " ")})),
        h("div", {class: "mono muted cfg-summary", text: cfg || "no config"}),
        h("div", {class: "muted", dataset: {field: "traffic"},
                  text: `↑ ${fmtNum(rt.pps_out)} pkt/s  ↓ ${fmtNum(rt.pps_in)} pkt/s · errors 24 h ${rt.errors_24h ?? 0}`}),
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
        addBtn.disabled = false;
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
          el.textContent = `↑ ${fmtNum(inst.pps_out)} pkt/s  ↓ ${fmtNum(inst.pps_in)} pkt/s · errors 24 h ${inst.errors_24h ?? 0}`;
        }
      }
    };
    const offs = [live.on("stats", update), live.on("state", () => load())];
    load();
    return () => offs.forEach((f) => f());
  },
};
