// Satellites: every satellite's link (state, address, backlog, RTT, last seen, what
// was delivered and dropped as duplicate); an admin trusts a pending key under an id
// or revokes a satellite (its link closes at once). Refreshed on the live stats tick.
import {api} from "../api.js";
import * as live from "../live.js";
import {clear, confirm, dialog, fmtNum, fmtTime, h, showError, toast} from "../ui.js";

const COLUMNS = ["Satellite", "State", "Address", "Backlog", "RTT ms", "Last seen",
                 "Delivered", "Duplicates dropped", "Key", ""];
const REFRESH_MS = 2000;

async function trustDialog(row) {
  const id = h("input", {id: "trust-id", value: row.id || "", maxlength: 64,
                         pattern: "[A-Za-z0-9_-]{1,64}", autocomplete: "off"});
  const ok = await dialog({
    title: "Trust this satellite?",
    body: [h("p", {text: "Its data is taken from then on, under the id you give it; " +
                         "the id stays bound to this key."}),
           h("p", {class: "mono", text: row.key}),
           h("label", {}, "Satellite id ", id)],
    buttons: [{label: "Cancel", value: false}, {label: "Trust", value: true, class: "primary"}],
    onOpen: () => id.focus()});
  return ok ? id.value.trim() : null;
}

function actions(row, act) {
  if (row.state === "pending") {
    return h("button", {type: "button", class: "btn small primary admin-only",
                        dataset: {action: "trust"}, onclick: () => act("trust", row)}, "Trust");
  }
  if (row.state === "revoked") return null;
  return h("button", {type: "button", class: "btn small danger admin-only",
                      dataset: {action: "revoke"}, onclick: () => act("revoke", row)},
           "Revoke");
}

function rowOf(row, act) {
  const seen = row.last_seen ? fmtTime(row.last_seen * 1000) : "–";
  const values = [row.id, h("span", {class: `badge sat-${row.state}`, text: row.state}),
                  row.address, row.backlog, fmtNum(row.rtt_ms), seen, row.delivered,
                  row.duplicates_dropped, `${row.key.slice(0, 8)}…`, actions(row, act)];
  // data-label: the column's name, shown beside the value where rows stack (phones)
  return h("tr", {dataset: {id: row.id || "", key: row.key, state: row.state}},
    values.map((v, i) => h("td", {dataset: {label: COLUMNS[i]},
                                  class: [0, 2, 8].includes(i) ? "mono" : "",
                                  title: i === 8 ? row.key : null}, v ?? "–")));
}

export default {
  title: "Satellites",
  mount(root) {
    const body = h("tbody");
    const summary = h("span", {class: "muted", id: "satellites-summary"});
    root.append(
      h("div", {class: "toolbar"}, h("h1", {text: "Satellites"}), h("span", {class: "spacer"}),
        summary),
      h("div", {class: "table-wrap"},
        h("table", {class: "table", id: "satellites"},
          h("thead", {}, h("tr", {}, COLUMNS.map((t) => h("th", {text: t})))), body)));

    async function act(action, row) {
      try {
        if (action === "trust") {
          const id = await trustDialog(row);
          if (!id) return;
          await api("POST", "/api/satellites/trust", {key: row.key, id});
          toast(`${id} trusted`, "ok");
        } else {
          if (!await confirm(`Revoke ${row.id}?`, "Its link closes at once and its key is " +
                             "refused from then on; its data stops.",
                             {danger: true, ok: "Revoke"})) return;
          await api("POST", "/api/satellites/revoke", {id: row.id});
          toast(`${row.id} revoked`, "ok");
        }
      } catch (e) { showError(e); }
      load();
    }

    let loadedAt = 0;
    async function load() {
      loadedAt = Date.now();
      let rows;
      try { rows = await api("GET", "/api/satellites"); } catch (e) { showError(e); return; }
      clear(body).append(...rows.map((r) => rowOf(r, act)));
      if (!rows.length) {
        body.append(h("tr", {}, h("td", {colspan: COLUMNS.length, class: "empty",
                                         text: "No satellite has connected yet."})));
      }
      const up = rows.filter((r) => r.state === "connected").length;
      const pending = rows.filter((r) => r.state === "pending").length;
      summary.textContent = `${up} connected` + (pending ? ` · ${pending} pending` : "");
    }
    const off = live.on("stats", () => { if (Date.now() - loadedAt >= REFRESH_MS) load(); });
    load();
    return off;
  },
};
