// Plugins: worker types (built in and installed), install from the index or a wheel file
// with pip's output as it comes, updates, README viewer, enable/disable, uninstall.
// Every action is the supervisor's plugin manager behind /api/plugins.
import {api} from "../api.js";
import {clear, confirm, dialog, h, showError, toast} from "../ui.js";

// The server renders READMEs with markdown-it-py and sanitises them with nh3; the
// browser parses that HTML inertly and adopts the nodes.
function readmeNodes(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  return h("div", {class: "markdown"}, ...Array.from(doc.body.childNodes));
}

function fileBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

export default {
  title: "Plugins",
  mount(root) {
    let alive = true;
    const grid = h("div", {class: "cards", id: "plugin-cards"});
    const pkg = h("input", {id: "plugin-package", placeholder: "package[==version]"});
    const file = h("input", {id: "plugin-file", type: "file", accept: ".whl"});
    const progress = h("pre", {id: "plugin-progress", class: "log", hidden: true});
    const check = h("button", {type: "button", class: "btn small", id: "plugin-check",
                               onclick: () => load(true)}, "Check for updates");
    root.append(h("div", {class: "toolbar"}, h("h1", {text: "Plugins"}), h("span", {class: "spacer"}),
      check,
      h("form", {class: "toolbar admin-only", onsubmit: (ev) => { ev.preventDefault(); install(); }},
        pkg, h("button", {type: "submit", class: "btn primary"}, "Install")),
      h("form", {class: "toolbar admin-only", onsubmit: (ev) => { ev.preventDefault(); upload(); }},
        file, h("button", {type: "submit", class: "btn"}, "Install file"))),
      progress, grid);

    // Follow a job: pip's lines appear as they come; on failure its last lines stay.
    async function follow(started, what) {
      let view = started;
      progress.hidden = false;
      clear(progress).append(view.lines.join("\n"));
      while (alive && view.state === "running") {
        view = await api("GET", `/api/plugins/jobs/${encodeURIComponent(view.job)}?since=${view.next}&wait=20`);
        if (view.lines.length) progress.append(`\n${view.lines.join("\n")}`);
        progress.scrollTop = progress.scrollHeight;
      }
      if (view.state === "done") {
        toast(`${what}: ${view.action} done (${(view.result.types || []).join(", ")} ${view.result.version})`, "ok");
        progress.hidden = true;
      } else if (view.state === "failed") {
        const detail = (view.detail || []).join("\n");
        progress.append(`\n\n${view.error}${detail ? `\n${detail}` : ""}`);
        toast(`${what}: ${view.error}`, "error");
      }
      load();
    }

    async function install() {
      if (!pkg.value) return;
      try {
        await follow(await api("POST", "/api/plugins/install", {package: pkg.value}), pkg.value);
      } catch (e) { showError(e); }
    }

    async function upload() {
      const f = file.files[0];
      if (!f) return;
      try {
        const data = await fileBase64(f);
        await follow(await api("POST", "/api/plugins/upload", {filename: f.name, data}), f.name);
      } catch (e) { showError(e); }
    }

    async function update(p) {
      try {
        await follow(await api("POST", "/api/plugins/update", {name: p.plugin}), p.plugin);
      } catch (e) { showError(e); }
    }

    // Disable and uninstall ask first, and again when the type has instances: they are
    // stopped only when the admin says so.
    async function guarded(action, p, question, text) {
      if (!await confirm(question, text, {danger: true, ok: action === "disable" ? "Disable" : "Uninstall"})) return;
      const name = action === "uninstall" ? p.plugin : p.name;
      try {
        await api("POST", `/api/plugins/${action}`, {name});
      } catch (e) {
        if (e.status !== 409 || !Array.isArray(e.detail)) { showError(e); load(); return; }
        const after = action === "disable"
          ? `they start again when ${p.name} is enabled`
          : "they cannot start until a plugin brings the type back";
        const stop = await confirm(`${p.name} has instances`,
          `${e.detail.join(", ")} will be stopped now. Their entries stay in ` +
          `connections.json; ${after}. Go on?`, {danger: true, ok: "Stop them"});
        if (!stop) return;
        try { await api("POST", `/api/plugins/${action}`, {name, stop_instances: true}); } catch (e2) { showError(e2); }
      }
      toast(`${p.name}: ${action} done`, "ok");
      load();
    }

    async function enable(p) {
      try {
        await api("POST", "/api/plugins/enable", {name: p.name});
        toast(`${p.name}: enabled`, "ok");
      } catch (e) { showError(e); }
      load();
    }

    async function readme(name) {
      try {
        const doc = await api("GET", `/api/plugins/${encodeURIComponent(name)}/readme`);
        await dialog({title: `${name}: README`, body: [readmeNodes(doc.html)],
                      buttons: [{label: "Close", value: true, class: "primary"}]});
      } catch (e) { showError(e); }
    }

    function badge(p) {
      if (!p.enabled) return h("span", {class: "badge status-stopped", text: "disabled"});
      if (p.update_available) return h("span", {class: "badge status-backoff", text: `update ${p.latest}`});
      return h("span", {class: "badge status-running", text: p.builtin ? "built in" : "installed"});
    }

    function card(p) {
      return h("article", {class: "card", dataset: {id: p.name}},
        h("div", {class: "card-head"},
          h("div", {class: "card-title"}, h("strong", {text: p.name}),
            h("span", {class: "sub", text: `${p.version || "?"} · ${p.builtin ? "core" : p.plugin}`})),
          badge(p)),
        h("p", {text: p.description || ""}),
        p.author ? h("p", {class: "sub", text: `by ${p.author}`}) : null,
        p.instances.length ? h("p", {class: "sub", text: `instances: ${p.instances.join(", ")}`}) : null,
        h("div", {class: "actions"},
          p.has_readme ? h("button", {type: "button", class: "btn small", onclick: () => readme(p.name)}, "README") : null,
          p.update_available ? h("button", {type: "button", class: "btn small primary admin-only",
                                            onclick: () => update(p)}, `Update to ${p.latest}`) : null,
          p.enabled
            ? h("button", {type: "button", class: "btn small admin-only",
                           onclick: () => guarded("disable", p, `Disable ${p.name}?`,
                             "New connections of this type are refused, and reload refuses existing ones.")}, "Disable")
            : h("button", {type: "button", class: "btn small admin-only", onclick: () => enable(p)}, "Enable"),
          p.builtin ? null : h("button", {type: "button", class: "btn small warn admin-only",
            onclick: () => guarded("uninstall", p, `Uninstall ${p.plugin}?`,
                                   "Its folder under the data dir is removed.")}, "Uninstall")));
    }

    // A check asks the index once per plugin (pip, seconds each): the button says so
    // meanwhile. What it found stays on the cards of later plain loads (for as long as the
    // installed version is the one checked), and a load that answers after a newer one
    // does not replace its cards.
    const checked = new Map();  // type name -> {version, latest, update_available}
    let started = 0, drawn = 0;
    async function load(withCheck = false) {
      const mine = ++started;
      if (withCheck) { check.disabled = true; check.textContent = "Checking…"; }
      try {
        const plugins = await api("GET", `/api/plugins${withCheck ? "?check=1" : ""}`);
        for (const p of plugins) {
          if (withCheck) checked.set(p.name, {version: p.version, latest: p.latest,
                                              update_available: p.update_available});
          else if (checked.get(p.name)?.version === p.version) Object.assign(p, checked.get(p.name));
        }
        if (alive && mine > drawn) { drawn = mine; clear(grid).append(...plugins.map(card)); }
        else if (alive && withCheck) load();  // a newer plain load drew first: add what was found
        if (withCheck) {
          const n = plugins.filter((p) => p.update_available).length;
          toast(n ? `${n} update${n > 1 ? "s" : ""} available` : "All plugins are up to date", "ok");
        }
      } catch (e) { showError(e); } finally {
        if (withCheck) { check.disabled = false; check.textContent = "Check for updates"; }
      }
    }
    load();
    return () => { alive = false; };
  },
};
