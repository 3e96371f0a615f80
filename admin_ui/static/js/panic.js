// The panic button: a confirmation with a 5 s countdown before it can be pressed.
import {api} from "./api.js";
import {confirm, dialog, h, showError, toast} from "./ui.js";

const COUNTDOWN_S = 5;

// "since 14:02:11 by admin: water in the basement" (record: who, since, why).
export function panicText(record) {
  if (!record || !record.since) return "reason unknown";
  const since = new Date(record.since);
  const day = since.toDateString() === new Date().toDateString() ? "" :
    `${since.toLocaleDateString()} `;
  return `since ${day}${since.toLocaleTimeString()} by ${record.who || "?"}` +
    (record.why ? `: ${record.why}` : "");
}

export async function panicDialog() {
  const why = h("input", {id: "panic-why", placeholder: "reason (optional)", maxlength: 500,
                          style: "width:100%"});
  const count = h("div", {class: "countdown", id: "panic-countdown", text: String(COUNTDOWN_S)});
  let timer = null;
  const answer = await dialog({
    title: "Trigger PANIC?",
    danger: true,
    body: [
      h("p", {text: "Fail-safe values are written, then every device worker stops and " +
                    "routing freezes. The admin UI stays up. It stays in panic until an " +
                    "admin recovers, even across a restart."}),
      count, why,
    ],
    buttons: [{label: "Cancel", value: false},
              {label: `Panic now (${COUNTDOWN_S})`, value: true, class: "danger"}],
    onOpen: (dlg, btns) => {
      const go = btns[1];
      go.id = "panic-confirm";
      go.disabled = true;
      let left = COUNTDOWN_S;
      timer = setInterval(() => {
        left -= 1;
        count.textContent = String(Math.max(left, 0));
        if (left <= 0) {
          clearInterval(timer);
          go.disabled = false;
          go.textContent = "Panic now";
          count.textContent = "armed";
        } else {
          go.textContent = `Panic now (${left})`;
        }
      }, 1000);
    },
  });
  clearInterval(timer);
  if (answer !== true) return;
  try {
    const res = await api("POST", "/api/admin/panic", {why: why.value || undefined});
    toast(`Panic: mode ${res.mode}`, "error");
  } catch (e) {
    showError(e);
  }
}

export async function recover() {
  if (!await confirm("Recover from panic?", "Routing resumes and every enabled worker " +
                     "starts again.", {ok: "Recover"})) return;
  try {
    const res = await api("POST", "/api/admin/recover");
    toast(`Recovered: mode ${res.mode}`, "ok");
  } catch (e) {
    showError(e);
  }
}
