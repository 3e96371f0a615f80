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
  const text = h("pre", {class: "config-preview", id: "review-config",
                         text: JSON.stringify(entry.config, null, 1)});
  const ok = await dialog({
    title: "Review the connection",
    body: [h("div", {class: "form-grid"},
      h("label", {for: "review-id", text: "id *"}), id,
      h("label", {for: "review-name", text: "name"}), name,
      needsKey ? [h("label", {for: "review-key", text: "encryption key *"}), key, keyProblem]
        : null),
    h("p", {class: "muted", text: `type ${entry.type}, ${regs}; it starts when saved.`}),
    text],
    buttons: [{label: "Cancel", value: false},
              {label: "Save and start", value: true, class: "primary"}]});
  if (!ok) return;
  const config = {...entry.config};
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
      h("option", {value: "ble"}, "Bluetooth LE"));
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
                    duration: field("Seconds", duration)};
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
        h("label", {for: "discover-target"}, "Target"), target,
        Object.values(fields), startBtn, cancelBtn),
      progress, results);
    fit();

    // Only the fields of the chosen kind (and M-Bus search mode) are shown and sent.
    function fit() {
      const bus = kind.value === "mbus";
      const ble = kind.value === "ble";
      target.placeholder = {mbus: "/dev/ttyUSB0", ble: "default or hci0",
                            modbus: "tcp://192.168.2.100:502 or rtu:///dev/ttyUSB0"}[kind.value];
      if (ble && !target.value) target.value = "default";
      fields.units.hidden = kind.value !== "modbus";
      fields.duration.hidden = !ble;
      fields.mode.hidden = !bus;
      fields.addresses.hidden = !bus || mode.value !== "primary";
      fields.mask.hidden = !bus || mode.value !== "secondary";
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
        show(await api("POST", "/api/discover", request()));
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
