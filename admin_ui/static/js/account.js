// The change-password dialog every logged-in user has (header button "Password").
import {renewSession} from "./api.js";
import {dialog, h, showError, toast} from "./ui.js";

export async function changePassword() {
  const current = h("input", {type: "password", id: "pw-current",
                              autocomplete: "current-password"});
  const next = h("input", {type: "password", id: "pw-new", minlength: 8,
                           autocomplete: "new-password", placeholder: "at least 8 characters"});
  const again = h("input", {type: "password", id: "pw-again", autocomplete: "new-password"});
  const ok = await dialog({
    title: "Change your password",
    body: [h("p", {class: "muted", text: "Your other sessions end; this one continues."}),
           h("label", {}, "Current ", current), h("label", {}, "New ", next),
           h("label", {}, "Repeat ", again)],
    buttons: [{label: "Cancel", value: false}, {label: "Change", value: true, class: "primary"}],
    onOpen: () => current.focus(),
  });
  if (!ok) return;
  if (next.value !== again.value) { toast("the new passwords differ", "error"); return; }
  try {
    await renewSession("POST", "/api/account/password",
                       {current: current.value, new: next.value});
    toast("password changed", "ok");
  } catch (e) { showError(e); }
}
