// System page: the high-availability panel (role, epoch, peer, mirror lag; promote and
// demote for admins). docs/high-availability.md
import {api} from "../api.js";
import * as live from "../live.js";
import {clear, confirm, fmtNum, h, showError, toast} from "../ui.js";

export function haPanel() {
  const el = h("div", {class: "panel", id: "ha-panel"});
  async function act(action) {
    const what = action === "promote" ? "Make this standby the active core?"
                                      : "Hand over to the connected standby?";
    if (!await confirm(`HA: ${action}`, what, {danger: true, ok: action})) return;
    try {
      await api("POST", `/api/ha/${action}`, {});
      toast(`HA: ${action} done`);
      load();
    } catch (e) { showError(e); }
  }
  async function load() {
    try {
      const s = await api("GET", "/api/ha");
      const lag = s.lag_dp === null || s.lag_dp === undefined ? "-"
        : `${s.lag_dp} datapoints, ${fmtNum(s.lag_s, 2)} s`;
      const admin = live.state.role === "admin";
      clear(el).append(...[  // null: a line or button this role or state does not have
        h("h2", {text: "High availability"}),
        h("div", {dataset: {ha: "role"}, text: `Role: ${s.role} · epoch ${s.epoch}`}),
        h("div", {class: "muted", text: `Peer: ${s.peer || "-"} · state ${s.state || "-"}`}),
        h("div", {class: "muted", text: `Mirror lag: ${lag}`}),
        s.role === "standby"  // its mirrored files are the active core's (edits refused here)
          ? h("div", {class: "warning", dataset: {ha: "read-only"},
                      text: `Configuration is read-only on a standby: edit it on ${s.peer || "the active core"}.`})
          : null,
        admin && s.role === "standby"
          ? h("button", {class: "btn danger", dataset: {ha: "promote"}, text: "Promote",
                      onclick: () => act("promote")}) : null,
        admin && s.role !== "standby"
          ? h("button", {class: "btn", dataset: {ha: "demote"}, text: "Demote (hand over)",
                      onclick: () => act("demote")}) : null].filter(Boolean));
    } catch (e) { clear(el).append(h("div", {class: "muted", text: `HA: ${e.message}`})); }
  }
  load();
  const timer = setInterval(load, 2000);
  return {el, stop: () => clearInterval(timer)};
}
