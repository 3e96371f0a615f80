// Discover: find devices instead of typing them. A discovery job runs on the daemon with
// a progress bar and a cancel; every unit found offers its connection for review, and
// saving it (validated like any other) starts it.
import {api} from "../api.js";
import {clear, dialog, h, showError, toast} from "../ui.js";

const POLL_MS = 300;

// A Victron key must be 32 hex digits and start with the byte the device advertises.
function keyProblemOf(key, check) {
  if (!/^[0-9A-Fa-f]{32}$/.test(key)) return "the encryption key is 32 hex digits";
  if (check && key.slice(0, 2).toLowerCase() !== check) {
    return `this device expects a key starting with ${check}`;
  }
  return null;
}

function describe(unit) {
  if (unit.sunspec.length) {
    const who = Object.values(unit.identity || {}).filter(Boolean).join(" ");
    return `SunSpec models ${unit.sunspec.join(", ")} at ${unit.sunspec_base}` +
      (who ? ` · ${who}` : "");
  }
  const tables = (unit.tables || []).map((t) => `${t.table} ${t.address}+${t.count}`);
  return tables.length ? `answers: ${tables.join(", ")}` : "answers, no readable table found";
}

// Review a generated connection: id and name editable, the config shown as it will be saved.
async function review(entry, device = null) {
  const id = h("input", {id: "review-id", value: entry.id, required: true});
  const name = h("input", {id: "review-name", value: entry.name || ""});
  const needsKey = Boolean(device && device.needs_key);
  const key = h("input", {id: "review-key", size: 34, pattern: "[0-9A-Fa-f]{32}",
                          placeholder: "32 hex digits (VictronConnect > Product info)"});
  const keyProblem = h("div", {class: "help error", id: "review-key-problem"});
  key.addEventListener("input", () => {
    keyProblem.textContent = keyProblemOf(key.value.trim(), device && device.key_check) || "";
  });
  const c = entry.config;
  const regs = c.registers ? `${c.registers.length} registers`
    : c.meters ? `${c.meters.length} meters` : `${c.protocol} over ${c.transport}`;
  const text = h("textarea", {class: "config-preview", id: "review-config", rows: 14,
                              spellcheck: "false", "aria-label": "config (JSON)",
                              text: JSON.stringify(entry.config, null, 1)});
  const ok = await dialog({
    title: "Review the connection",
    body: [h("div", {class: "form-grid"},
      h("label", {for: "review-id", text: "id *"}), id,
      h("label", {for: "review-name", text: "name"}), name,
      needsKey ? [h("label", {for: "review-key", text: "encryption key *"}), key, keyProblem]
        : null),
    h("p", {class: "muted", text: `type ${entry.type}, ${regs}; edit the config if needed; it starts when saved.`}),
    text],
    buttons: [{label: "Cancel", value: false},
              {label: "Save and start", value: true, class: "primary"}]});
  if (!ok) return;
  let config;
  try { config = JSON.parse(text.value); } catch (e) {
    showError(new Error(`the config is not valid JSON: ${e.message}`));
    return;
  }
  if (needsKey) {
    const problem = keyProblemOf(key.value.trim(), device.key_check);
    if (problem) { showError(new Error(problem)); return; }
    config.key = key.value.trim().toLowerCase();
  }
  try {
    await api("POST", "/api/connections", {...entry, config, id: id.value.trim(),
                                           name: name.value.trim() || undefined});
    toast(`connection ${id.value.trim()} saved and started`, "ok");
    location.hash = "#/connections";
  } catch (e) { showError(e); }
}

export default {
  title: "Discover",
  mount(root) {
    let timer = null;
    let job = null;
    const kind = h("select", {id: "discover-kind", onchange: () => fit()},
      h("option", {value: "modbus"}, "Modbus"), h("option", {value: "mbus"}, "M-Bus"),
      h("option", {value: "ble"}, "Bluetooth LE"),
      h("option", {value: "ads"}, "PLC symbols (ads instance)"),
      h("option", {value: "mqtt"}, "MQTT topics (mqtt instance)"));
    const instance = h("select", {id: "discover-instance"});
    const topicFilter = h("input", {id: "discover-filter", value: "#", size: 16});
    const target = h("input", {id: "discover-target", required: true, size: 28});
    const units = h("input", {id: "discover-units", value: "1-247", size: 9});
    const mode = h("select", {id: "discover-mode", onchange: () => fit()},
      h("option", {value: "primary"}, "primary addresses"),
      h("option", {value: "secondary"}, "secondary search"));
    const addresses = h("input", {id: "discover-addresses", value: "0-250", size: 9});
    const duration = h("input", {id: "discover-duration", type: "number", min: "1", max: "120",
                                 value: "10", size: 4});
    const mask = h("input", {id: "discover-mask", value: "FFFFFFFFFFFFFFFF", size: 18,
                             pattern: "[0-9A-Fa-f]{16}", title: "16 hex digits, F = any"});
    const field = (label, input) => h("span", {class: "discover-field", dataset:
                                                {for: input.id}},
      h("label", {for: input.id}, label), input);
    const fields = {units: field("Units", units), mode: field("Search", mode),
                    addresses: field("Addresses", addresses), mask: field("Mask", mask),
                    duration: field("Seconds", duration),
                    instance: field("Instance", instance), filter: field("Filter", topicFilter)};
    const targetField = field("Target", target);
    const startBtn = h("button", {type: "submit", class: "btn primary", id: "discover-start"},
                       "Discover");
    const cancelBtn = h("button", {type: "button", class: "btn", id: "discover-cancel",
                                   disabled: true, onclick: cancel}, "Cancel");
    const bar = h("span", {style: "width: 0%"});
    const progress = h("div", {class: "discover-progress", id: "discover-progress", hidden: true},
      h("div", {class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100"},
        bar), h("div", {class: "muted", id: "discover-message"}));
    const results = h("div", {class: "cards", id: "discover-results"});
    root.append(
      h("div", {class: "toolbar"}, h("h1", {text: "Discover devices"})),
      h("form", {class: "toolbar admin-only", id: "discover-form",
                 onsubmit: (ev) => { ev.preventDefault(); start(); }},
        h("label", {for: "discover-kind"}, "Kind"), kind,
        targetField, Object.values(fields), startBtn, cancelBtn),
      progress, results);
    fit();

    // Only the fields of the chosen kind (and M-Bus search mode) are shown and sent.
    function fit() {
      const bus = kind.value === "mbus";
      const ble = kind.value === "ble";
      const browsing = kind.value === "ads" || kind.value === "mqtt";
      targetField.hidden = browsing;
      startBtn.textContent = browsing ? "Browse" : "Discover";
      fields.instance.hidden = !browsing;
      fields.filter.hidden = kind.value !== "mqtt";
      if (browsing) listInstances(kind.value);
      fields.duration.hidden = !(ble || kind.value === "mqtt");
      target.placeholder = {mbus: "/dev/ttyUSB0", ble: "default or hci0",
                            modbus: "tcp://192.168.2.100:502 or rtu:///dev/ttyUSB0"}[kind.value];
      if (ble && !target.value) target.value = "default";
      fields.units.hidden = kind.value !== "modbus";

      fields.mode.hidden = !bus;
      target.required = !browsing;
      fields.addresses.hidden = !bus || mode.value !== "primary";
      fields.mask.hidden = !bus || mode.value !== "secondary";
    }

    async function listInstances(type) {
      try {
        const doc = await api("GET", "/api/connections");
        clear(instance).append(...doc.connections.filter((c) => c.type === type)
          .map((c) => h("option", {value: c.id}, c.name ? `${c.id} (${c.name})` : c.id)));
      } catch (e) { showError(e); }
    }

    function request() {
      const body = {kind: kind.value, target: target.value.trim()};
      if (kind.value === "modbus") body.units = units.value.trim() || undefined;
      else if (kind.value === "ble") body.duration_s = Number(duration.value) || 10;
      else if (mode.value === "primary") Object.assign(body, {mode: "primary",
        addresses: addresses.value.trim() || undefined});
      else Object.assign(body, {mode: "secondary", mask: mask.value.trim()});
      return body;
    }

    function show(j) {
      job = j;
      progress.hidden = false;
      const pct = Math.round(j.progress * 100);
      bar.style.width = `${pct}%`;
      bar.parentNode.setAttribute("aria-valuenow", String(pct));
      const state = j.state === "running" ? "" : ` (${j.state})`;
      document.getElementById("discover-message").textContent =
        `${pct}% ${j.message || ""}${state}${j.error ? `: ${j.error}` : ""}`;
      const running = j.state === "running";
      startBtn.disabled = running;
      cancelBtn.disabled = !running;
      if (j.state === "done") showResults(j.result);
      else if (j.kind === "ble") showDevices(j.found, false);
    }

    function showResults(result) {
      clear(results);
      if (result.kind === "mbus") { showMeters(result); return; }
      if (result.kind === "ble") { showDevices(result.devices, true); return; }
      if (result.kind === "ads") { showSymbols(result); return; }
      if (result.kind === "mqtt") { showTopics(result); return; }
      if (!result.units.length) {
        results.append(h("p", {class: "muted", text: "No unit answered."}));
        return;
      }
      for (const unit of result.units) {
        results.append(h("div", {class: "card", dataset: {unit: String(unit.unit_id)}},
          h("div", {class: "card-head"}, h("div", {class: "card-title"},
            h("strong", {text: `Unit ${unit.unit_id}`}),
            h("span", {class: "sub", text: describe(unit)}))),
          h("div", {class: "toolbar"},
            h("span", {class: "muted", text: `${unit.registers.length} registers mapped`}),
            h("span", {class: "spacer"}),
            h("button", {type: "button", class: "btn primary small admin-only",
                         onclick: () => review(unit.connection)}, "Create connection"))));
      }
    }

    // M-Bus: one card per meter, one connection for the line with every meter found.
    function showMeters(result) {
      if (!result.meters.length) {
        results.append(h("p", {class: "muted", text: "No meter answered."}));
        return;
      }
      for (const m of result.meters) {
        const where = m.address !== undefined ? `address ${m.address}` : `secondary ${m.secondary}`;
        results.append(h("div", {class: "card", dataset: {meter: m.id || where}},
          h("div", {class: "card-head"}, h("div", {class: "card-title"},
            h("strong", {text: m.error ? where : `${m.manufacturer || ""} ${m.id}`}),
            h("span", {class: "sub", text: m.error ||
              `${where} · ${m.medium} · ${m.records.length} records`})))));
      }
      results.append(h("div", {class: "toolbar"}, h("button", {
        type: "button", class: "btn primary admin-only", id: "discover-create-line",
        onclick: () => review(result.connection)}, "Create connection for these meters")));
    }

    // BLE: the devices in range, live while the job listens; identified ones can be added.
    function showDevices(devices, done) {
      clear(results);
      if (!devices.length) {
        results.append(h("p", {class: "muted", text: done ? "No device in range."
                                                            : "Listening…"}));
        return;
      }
      const rows = devices.map((d) => h("tr", {dataset: {address: d.address}},
        h("td", {class: "mono", text: d.address}), h("td", {text: String(d.rssi)}),
        h("td", {text: d.kind ? d.kind + (d.needs_key ? " (key needed)" : "") : "–"}),
        h("td", {text: d.name || ""}),
        h("td", {}, done && d.connection ? h("button", {
          type: "button", class: "btn primary small admin-only",
          onclick: () => review(d.connection, d)}, "Create connection") : null)));
      results.append(h("div", {class: "table-wrap"}, h("table", {id: "discover-devices"},
        h("thead", {}, h("tr", {}, ["Address", "RSSI dBm", "Kind", "Name", ""].map(
          (c) => h("th", {text: c})))), h("tbody", {}, rows))));
    }

    // PLC symbols: search, a type filter, details and values; ticking a symbol and
    // applying adds it to the instance's symbol patterns (it restarts and publishes it).
    function showSymbols(result) {
      const search = h("input", {id: "browse-search", type: "search", placeholder: "search"});
      const types = [...new Set(result.symbols.map((s) => s.type))].sort();
      const typeSel = h("select", {id: "browse-type"}, h("option", {value: ""}, "all types"),
                        types.map((ty) => h("option", {value: ty}, ty)));
      const chosen = new Set(result.symbols.filter((s) => s.selected).map((s) => s.path));
      const all = (result.patterns || []).includes("**");
      const body = h("tbody");
      const draw = () => {
        const q = search.value.trim().toLowerCase();
        const rows = result.symbols.filter((s) => (!q || s.path.toLowerCase().includes(q) ||
          (s.comment || "").toLowerCase().includes(q)) && (!typeSel.value || s.type === typeSel.value));
        clear(body).append(...rows.slice(0, 500).map((s) => h("tr", {dataset: {path: s.path}},
          h("td", {}, h("input", {type: "checkbox", checked: chosen.has(s.path),
            "aria-label": `publish ${s.path}`,
            onchange: (ev) => { if (ev.target.checked) chosen.add(s.path); else chosen.delete(s.path); }})),
          h("td", {class: "mono", text: s.path}), h("td", {text: s.type}),
          h("td", {class: "mono", text: s.value === undefined ? "–" : JSON.stringify(s.value)}),
          h("td", {class: "muted", text: `${s.index_group.toString(16)}h:${s.index_offset} · ` +
                                         `${s.size} B${s.writable ? "" : " · read-only"}`}),
          h("td", {class: "muted", text: s.comment || ""}))));
        count.textContent = `${rows.length} of ${result.symbols.length} symbols` +
          (rows.length > 500 ? " (first 500 shown)" : "");
      };
      const count = h("span", {class: "muted"});
      search.addEventListener("input", draw);
      typeSel.addEventListener("change", draw);
      results.append(h("div", {class: "toolbar"}, search, typeSel, count, h("span", {class: "spacer"}),
        all ? h("span", {class: "muted", text: "the instance publishes every symbol today"}) : null,
        h("button", {type: "button", class: "btn primary admin-only", id: "browse-apply",
                     onclick: () => applyTo(result.instance, (cfg) => {
                       cfg.symbols = [...chosen].sort();
                     })}, "Publish the ticked symbols")),
        h("div", {class: "table-wrap"}, h("table", {id: "browse-symbols"},
          h("thead", {}, h("tr", {}, ["", "Symbol", "Type", "Value", "Address", "Comment"]
            .map((c) => h("th", {text: c})))), body)));
      draw();
    }

    // MQTT topics: value and recent payloads; ticking adds the topic to the instance's
    // subscribe filters, unticking removes a filter that is exactly that topic.
    function showTopics(result) {
      const filters = new Set(result.subscribe.map((s) => (typeof s === "string" ? s : s.topic)));
      const ticked = new Set(result.topics.filter((x) => x.subscribed).map((x) => x.topic));
      const rows = result.topics.map((x) => h("tr", {dataset: {topic: x.topic}},
        h("td", {}, h("input", {type: "checkbox", checked: ticked.has(x.topic),
          "aria-label": `subscribe ${x.topic}`,
          onchange: (ev) => { if (ev.target.checked) ticked.add(x.topic); else ticked.delete(x.topic); }})),
        h("td", {class: "mono", text: x.topic}),
        h("td", {class: "mono", text: JSON.stringify(x.value)}),
        h("td", {text: String(x.messages)}),
        h("td", {class: "muted", text: x.history.map(([, v]) => JSON.stringify(v)).join(" · ")})));
      results.append(h("div", {class: "toolbar"},
        h("span", {class: "muted", text: `${result.topics.length} topics on ${result.broker}` +
          (result.dropped_topics ? `, ${result.dropped_topics} more not kept` : "")}),
        h("span", {class: "spacer"}),
        h("button", {type: "button", class: "btn primary admin-only", id: "browse-apply",
                     onclick: () => applyTo(result.instance, (cfg) => {
                       const next = (cfg.subscribe || []).filter((s) => {
                         const topic = typeof s === "string" ? s : s.topic;
                         return ticked.has(topic) || !result.topics.some((x) => x.topic === topic);
                       });
                       for (const topic of ticked) if (!filters.has(topic)) next.push(topic);
                       cfg.subscribe = next;
                     })}, "Apply subscriptions")),
        h("div", {class: "table-wrap"}, h("table", {id: "browse-topics"},
          h("thead", {}, h("tr", {}, ["", "Topic", "Value", "Messages", "Recent"]
            .map((c) => h("th", {text: c})))), h("tbody", {}, rows))));
    }

    async function applyTo(id, change) {
      try {
        const entry = await api("GET", `/api/connections/${encodeURIComponent(id)}`);
        delete entry.runtime;
        const cfg = {...entry.config};
        change(cfg);
        await api("PUT", `/api/connections/${encodeURIComponent(id)}`, {...entry, config: cfg});
        toast(`${id}: saved; it restarts with the new selection`, "ok");
      } catch (e) { showError(e); }
    }

    async function poll() {
      timer = null;
      try {
        show(await api("GET", `/api/discover/${job.id}`));
      } catch (e) { showError(e); return; }
      if (job.state === "running") timer = setTimeout(poll, POLL_MS);
    }

    async function start() {
      clear(results);
      try {
        if (kind.value === "ads" || kind.value === "mqtt") {
          const body = kind.value === "mqtt" ? {filter: topicFilter.value.trim() || "#",
                                                duration_s: Number(duration.value) || 5} : {};
          show(await api("POST", `/api/connections/${encodeURIComponent(instance.value)}/browse`,
                         body));
        } else {
          show(await api("POST", "/api/discover", request()));
        }
      } catch (e) { showError(e); return; }
      timer = setTimeout(poll, POLL_MS);
    }

    async function cancel() {
      if (!job) return;
      try { show(await api("DELETE", `/api/discover/${job.id}`)); } catch (e) { showError(e); }
    }

    return () => { if (timer) clearTimeout(timer); };
  },
};
