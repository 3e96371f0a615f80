// Instances: one live card per process, ioBroker-style, updated in place every second.
import {api} from "../api.js";
import {historyPanel} from "../charts.js";
import * as live from "../live.js";
import {clear, confirm, fmtNum, fmtUptime, h, showError, sparkline, toast,
        updateSparkline} from "../ui.js";

const SORTS = {
  name: (a, b) => (a.name || a.id).localeCompare(b.name || b.id),
  cpu: (a, b) => b.cpu_percent - a.cpu_percent,
  ram: (a, b) => b.memory_mb - a.memory_mb,
  traffic: (a, b) => (b.pps_in + b.pps_out) - (a.pps_in + a.pps_out),
};
const ALIVE = new Set(["starting", "running", "stopping", "disconnected"]);

function level(value, limit) {
  if (!limit) return "";
  const share = value / limit;
  return share >= 1 ? "hot" : share >= 0.8 ? "warm" : "";
}

function figure(key, label) {
  return h("div", {class: "figure"}, h("span", {class: "k", text: label}),
           h("span", {class: "v", dataset: {field: key}, text: "–"}));
}

function buildCard(inst, act) {
  const btn = (action, label, cls = "") => h("button", {
    type: "button", class: `btn small admin-only ${cls}`, dataset: {action},
    onclick: () => act(inst.id, action)}, label);
  const card = h("article", {class: "card", dataset: {id: inst.id}},
    h("div", {class: "card-head"},
      h("div", {class: "card-title"},
        h("strong", {text: inst.name || inst.id, title: inst.name || inst.id}),
        h("span", {class: "sub", text: `${inst.id} · ${inst.type}${inst.critical ? " · critical" : ""}`})),
      h("span", {class: "badge status-badge", dataset: {field: "status"}})),
    h("div", {class: "figures"},
      figure("cpu_percent", "CPU %"), figure("memory_mb", "RAM MB"),
      figure("uptime_seconds", "Uptime"), figure("pps_in", "In /s"),
      figure("pps_out", "Out /s"), figure("restarts", "Restarts"),
      // the Errors page's count (same store, same window), linked to that page
      h("div", {class: "figure"}, h("span", {class: "k", text: "Errors 24 h"}),
        h("a", {class: "v", dataset: {field: "errors_24h"}, text: "–",
                href: `#/errors?instance=${encodeURIComponent(inst.id)}`})),
      figure("pid", "PID"), figure("nice", "Nice")),
    h("div", {class: "bar", dataset: {field: "ram_bar"}, title: "RAM of its limit"}, h("span")),
    h("div", {class: "sparks"},
      h("div", {class: "spark cpu"}, h("span", {text: "CPU, last minutes"}), sparkline([])),
      h("div", {class: "spark ram"}, h("span", {text: "RAM"}), sparkline([]))),
    h("div", {class: "card-warn", dataset: {field: "warn"}}),
    h("div", {class: "card-error", dataset: {field: "last_error"}}),
    h("div", {class: "actions"},
      btn("start", "Start"), btn("stop", "Stop"), btn("restart", "Restart"),
      btn("kill", "☠ Kill", "warn"),
      inst.role === "worker" && !inst.host ? btn("disconnect", "Disconnect") : null,
      inst.role === "worker" && !inst.host ? btn("reconnect", "Reconnect") : null,
      btn("reactivate", "Reactivate", "primary"),
      inst.host ? null  // a satellite's logs stay on the satellite
        : h("a", {class: "btn small", href: `#/logs?instance=${encodeURIComponent(inst.id)}`},
            "Logs")));
  return card;
}

function updateCard(card, inst, mode) {
  const f = (key) => card.querySelector(`[data-field="${key}"]`);
  const limits = inst.limits || {};
  card.className = `card st-${inst.status}`;
  const badge = f("status");
  badge.textContent = inst.status.replaceAll("_", " ");
  badge.className = `badge status-badge status-${inst.status}`;
  badge.title = inst.reason || "";
  f("cpu_percent").textContent = fmtNum(inst.cpu_percent);
  f("cpu_percent").className = `v ${level(inst.cpu_percent, limits.max_cpu_share)}`;
  f("memory_mb").textContent = fmtNum(inst.memory_mb);
  f("memory_mb").className = `v ${level(inst.memory_mb, limits.max_ram_mb)}`;
  f("uptime_seconds").textContent = fmtUptime(inst.uptime_seconds);
  f("pps_in").textContent = fmtNum(inst.pps_in);
  f("pps_out").textContent = fmtNum(inst.pps_out);
  f("pps_out").className = `v ${level(inst.pps_out, limits.max_pps)}`;
  f("restarts").textContent = String(inst.restarts ?? "–");
  f("errors_24h").textContent = String(inst.errors_24h ?? "–");
  f("pid").textContent = inst.pid ?? "–";
  f("nice").textContent = inst.nice ?? "–";
  const bar = f("ram_bar");
  const share = limits.max_ram_mb ? Math.min(inst.memory_mb / limits.max_ram_mb, 1) : 0;
  bar.className = `bar ${level(inst.memory_mb, limits.max_ram_mb)}`;
  bar.firstChild.style.width = `${(share * 100).toFixed(1)}%`;
  const warns = [];
  if (limits.max_ram_mb && inst.memory_mb >= 0.8 * limits.max_ram_mb) {
    warns.push(`RAM ${fmtNum(inst.memory_mb)} MB of ${limits.max_ram_mb} MB limit`);
  }
  if (limits.max_pps && inst.pps_out >= 0.8 * limits.max_pps) {
    warns.push(`${fmtNum(inst.pps_out, 0)} pps of ${limits.max_pps} pps limit`);
  }
  if (inst.status === "suspended_by_spam") {
    warns.push(`suspended by the spam guard at ${fmtNum(inst.spam_pps, 0)} pps ` +
               `(limit ${limits.max_pps} pps)`);
  }
  if (inst.heartbeat_age_s && limits.heartbeat_s && inst.heartbeat_age_s > limits.heartbeat_s / 2) {
    warns.push(`no heartbeat for ${fmtNum(inst.heartbeat_age_s)} s`);
  }
  f("warn").textContent = warns.join(" · ");
  f("last_error").textContent = inst.last_error ? `last error: ${inst.last_error}` : "";
  const hist = live.state.history[inst.id] || [];
  const [cpuSvg, ramSvg] = card.querySelectorAll(".spark svg");
  updateSparkline(cpuSvg, hist.map((s) => s[1]), 5);
  const rams = hist.map((s) => s[2]);
  updateSparkline(ramSvg, rams, limits.max_ram_mb || Math.max(...rams, 1) * 1.25);
  const alive = ALIVE.has(inst.status);
  const panic = mode === "panic" && inst.role === "worker";
  const set = (action, enabled) => {
    const b = card.querySelector(`[data-action="${action}"]`);
    if (b) b.disabled = !enabled;
  };
  set("start", !alive && !panic && inst.status !== "suspended_by_spam");
  set("stop", alive);
  set("restart", alive && !panic);
  set("kill", inst.pid !== null);
  const cut = inst.status === "disconnected";
  for (const [action, show] of [["disconnect", !cut], ["reconnect", cut]]) {
    const b = card.querySelector(`[data-action="${action}"]`);
    if (b) { b.hidden = !show; b.disabled = show && !alive; }
  }
  const react = card.querySelector('[data-action="reactivate"]');
  react.hidden = inst.status !== "suspended_by_spam";
}

export default {
  title: "Instances",
  mount(root) {
    let sort = localStorage.getItem("instances.sort") || "name";
    let filter = "";
    const cards = new Map();
    let order = "";
    const grid = h("div", {id: "instance-cards"});
    const sortSel = h("select", {id: "sort", "aria-label": "sort by",
                                 onchange: () => { sort = sortSel.value;
                                                   localStorage.setItem("instances.sort", sort);
                                                   render(); }},
      Object.keys(SORTS).map((k) => h("option", {value: k, selected: k === sort},
                                       `sort: ${k}`)));
    const search = h("input", {type: "search", placeholder: "filter", "aria-label": "filter",
                               oninput: () => { filter = search.value.toLowerCase(); render(); }});
    const summary = h("span", {class: "muted", id: "instances-summary"});
    root.append(h("div", {class: "toolbar"}, h("h1", {text: "Instances"}),
                  h("span", {class: "spacer"}), summary, search, sortSel), grid);

    async function act(id, action) {
      const inst = live.state.instances.find((i) => i.id === id) || {};
      if (action === "kill") {
        const text = inst.critical
          ? `${id} is marked CRITICAL. Killing it sends SIGKILL to its whole process ` +
            "tree with no chance to write fail-safe values. It restarts afterwards."
          : `SIGKILL ${id} and its children now? It restarts afterwards.`;
        if (!await confirm(`Kill ${id}?`, text, {danger: true, ok: "Kill"})) return;
      } else if (id === "admin-ui" && ["stop", "restart"].includes(action)) {
        const text = action === "restart"
          ? "This page loses its connection for a few seconds and reconnects when the " +
            "admin UI is back. Sessions live in the admin UI: you log in again."
          : "The admin UI stops and this page stops working until it is started again " +
            "with 'edgectl start admin-ui' on the host.";
        if (!await confirm(`${action === "restart" ? "Restart" : "Stop"} the admin UI?`, text,
                           {danger: action === "stop", ok: action === "restart" ? "Restart" : "Stop"})) {
          return;
        }
      }
      const card = cards.get(id);
      card.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      try {
        const res = await api("POST", `/api/admin/instances/${encodeURIComponent(id)}/${action}`);
        toast(`${id}: ${action} → ${res.status}`, res.status === "accepted" ? "" : "ok");
      } catch (e) {
        showError(e);
      }
    }

    // This core's instances first, then one group per satellite (by its id).
    function groups(shown) {
      const hosts = [...new Set(shown.map((i) => i.host || ""))]
        .sort((a, b) => (b === "") - (a === "") || a.localeCompare(b));
      const titled = hosts.some((host) => host !== "");
      return hosts.map((host) => {
        const members = shown.filter((i) => (i.host || "") === host);
        return h("section", {class: "host-group", dataset: {host: host || "core"}},
          titled ? h("h2", {}, host ? `Satellite ${host}` : "This core",
                     h("span", {class: "muted", text: `${members.length} instance${members.length === 1 ? "" : "s"}`})) : null,
          h("div", {class: "cards"}, members.map((i) => cards.get(i.id))));
      });
    }

    function render() {
      const all = live.state.instances;
      const shown = all.filter((i) => !filter || `${i.id} ${i.name} ${i.type}`
        .toLowerCase().includes(filter)).sort(SORTS[sort]);
      for (const inst of shown) {
        if (!cards.has(inst.id)) cards.set(inst.id, buildCard(inst, act));
        updateCard(cards.get(inst.id), inst, live.state.mode);
      }
      const ids = new Set(all.map((i) => i.id));
      for (const id of [...cards.keys()]) {
        if (!ids.has(id)) { cards.get(id).remove(); cards.delete(id); }
      }
      const key = shown.map((i) => `${i.host || ""} ${i.id}`).join("\n");
      if (key !== order) {
        order = key;
        clear(grid).append(...groups(shown));
        if (!shown.length) grid.append(h("p", {class: "empty", text: "No instances yet."}));
      }
      const running = shown.filter((i) => i.status === "running").length;
      summary.textContent = `${running} of ${shown.length} running` +
        (shown.length < all.length ? ` (filter: ${shown.length} of ${all.length} shown)` : "");
    }

    const off = [live.on("stats", render), live.on("mode", render)];
    if (live.state.instances.length) render();
    else api("GET", "/api/admin/instances/stats").then((s) => {
      if (!live.state.instances.length) { live.state.instances = s.instances; render(); }
    }).catch(showError);
    const history = historyPanel({title: "History", ids: () => live.state.instances
      .filter((i) => !filter || `${i.id} ${i.name} ${i.type}`.toLowerCase().includes(filter))
      .map((i) => i.id)});
    root.append(history.el);
    off.push(history.stop);
    return () => off.forEach((f) => f());
  },
};
