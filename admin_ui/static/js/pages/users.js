// Users (admin only): add, change role, set a password, remove. The server refuses
// removing or demoting the last admin; its message is shown as it comes.
import {api} from "../api.js";
import {clear, confirm, dialog, fmtTime, h, showError, toast} from "../ui.js";

const ROLES = ["viewer", "operator", "admin"];
const ROLE_TEXT = {viewer: "sees everything, changes nothing",
                   operator: "dashboards and datapoint writes; no configuration, no start/stop",
                   admin: "everything"};

function roleSelect(value) {
  return h("select", {class: "role-select"},
    ROLES.map((r) => h("option", {value: r, selected: r === value, text: r})));
}

async function passwordDialog(title) {
  const pw = h("input", {type: "password", id: "user-password", minlength: 8,
                         autocomplete: "new-password", placeholder: "at least 8 characters"});
  const ok = await dialog({title, body: [h("label", {}, "Password ", pw)],
                           buttons: [{label: "Cancel", value: false},
                                     {label: "Save", value: true, class: "primary"}],
                           onOpen: () => pw.focus()});
  return ok ? pw.value : null;
}

export default {
  title: "Users",
  mount(root) {
    const table = h("tbody");
    const name = h("input", {id: "new-user-name", placeholder: "user name", maxlength: 64,
                             autocomplete: "off"});
    const password = h("input", {id: "new-user-password", type: "password", minlength: 8,
                                 placeholder: "password (8+)", autocomplete: "new-password"});
    const role = roleSelect("viewer");
    role.id = "new-user-role";
    root.append(
      h("div", {class: "toolbar"}, h("h1", {text: "Users"})),
      h("ul", {class: "muted"}, ROLES.map((r) => h("li", {}, h("strong", {text: r}),
                                                        `: ${ROLE_TEXT[r]}`))),
      h("form", {class: "toolbar", id: "add-user", onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          await api("POST", "/api/users", {username: name.value, password: password.value,
                                           role: role.value});
          toast(`user ${name.value} added`, "ok");
          name.value = password.value = "";
          load();
        } catch (e) { showError(e); }
      }}, name, password, role, h("button", {class: "btn primary", type: "submit"}, "Add user")),
      h("table", {class: "table", id: "users"},
        h("thead", {}, h("tr", {}, ["User", "Role", "Password changed", ""].map(
          (t) => h("th", {text: t})))), table));

    async function change(user, body, what) {
      try {
        await api("PUT", `/api/users/${encodeURIComponent(user)}`, body);
        toast(`${user}: ${what}`, "ok");
      } catch (e) { showError(e); }
      load();
    }

    async function load() {
      let users;
      try { users = await api("GET", "/api/users"); } catch (e) { showError(e); return; }
      clear(table).append(...users.map((u) => {
        const sel = roleSelect(u.role);
        sel.addEventListener("change", () => change(u.name, {role: sel.value},
                                                    `role ${sel.value}`));
        return h("tr", {dataset: {user: u.name}},
          h("td", {class: "mono", text: u.name}), h("td", {}, sel),
          h("td", {text: fmtTime(u.changed)}),
          h("td", {},
            h("button", {class: "btn small", type: "button", onclick: async () => {
              const pw = await passwordDialog(`New password for ${u.name}`);
              if (pw !== null) change(u.name, {password: pw}, "password set");
            }}, "Set password"), " ",
            h("button", {class: "btn small danger", type: "button", onclick: async () => {
              if (!await confirm(`Remove ${u.name}?`, "Their sessions end at once.",
                                 {danger: true, ok: "Remove"})) return;
              try {
                await api("DELETE", `/api/users/${encodeURIComponent(u.name)}`);
                toast(`${u.name} removed`, "ok");
              } catch (e) { showError(e); }
              load();
            }}, "Remove")));
      }));
    }
    load();
    return null;
  },
};
