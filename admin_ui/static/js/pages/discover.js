// Discover: find devices instead of typing them. A discovery job runs on the daemon with
// a progress bar and a cancel; every unit found offers its connection for review, and
// saving it (validated like any other) starts it.
import {api} from "../api.js";
import {clear, dialog, h, showError, toast} from "../ui.js";

const POLL_MS = 300;

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
async function review(entry) {
  const id = h("input", {id: "review-id", value: entry.id, required: true});
  const name = h("input", {id: "review-name", value: entry.name || ""});
  const regs = entry.config.registers ? `${entry.config.registers.length} registers`
    : `${(entry.config.meters || []).length} meters`;
  const text = h("pre", {class: "config-preview", id: "review-config",
                         text: JSON.stringify(entry.config, null, 1)});
  const ok = await dialog({
    title: "Review the connection",
    body: [h("div", {class: "form-grid"},
      h("label", {for: "review-id", text: "id *"}), id,
      h("label", {for: "review-name", text: "name"}), name),
    h("p", {class: "muted", text: `type ${entry.type}, ${regs}; it starts when saved.`}),
    text],
    buttons: [{label: "Cancel", value: false},
              {label: "Save and start", value: true, class: "primary"}]});
  if (!ok) return;
  try {
    await api("POST", "/api/connections", {...entry, id: id.value.trim(),
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
      h("option", {value: "modbus"}, "Modbus"), h("option", {value: "mbus"}, "M-Bus"));
    const target = h("input", {id: "discover-target", required: true, size: 28});
    const units = h("input", {id: "discover-units", value: "1-247", size: 9});
    const mode = h("select", {id: "discover-mode", onchange: () => fit()},
      h("option", {value: "primary"}, "primary addresses"),
      h("option", {value: "secondary"}, "secondary search"));
    const addresses = h("input", {id: "discover-addresses", value: "0-250", size: 9});
    const mask = h("input", {id: "discover-mask", value: "FFFFFFFFFFFFFFFF", size: 18,
                             pattern: "[0-9A-Fa-f]{16}", title: "16 hex digits, F = any"});
    const field = (label, input) => h("span", {class: "discover-field", dataset:
                                                {for: input.id}},
      h("label", {for: input.id}, label), input);
    const fields = {units: field("Units", units), mode: field("Search", mode),
                    addresses: field("Addresses", addresses), mask: field("Mask", mask)};
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
      target.placeholder = bus ? "/dev/ttyUSB0" : "tcp://192.168.2.100:502 or rtu:///dev/ttyUSB0";
      fields.units.hidden = bus;
      fields.mode.hidden = !bus;
      fields.addresses.hidden = !bus || mode.value !== "primary";
      fields.mask.hidden = !bus || mode.value !== "secondary";
    }

    function request() {
      const body = {kind: kind.value, target: target.value.trim()};
      if (kind.value === "modbus") body.units = units.value.trim() || undefined;
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
    }

    function showResults(result) {
      clear(results);
      if (result.kind === "mbus") { showMeters(result); return; }
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
