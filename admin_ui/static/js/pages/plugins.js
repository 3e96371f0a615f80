// Plugins: installed worker types, README viewer, enable/disable, install/uninstall.
import {api} from "../api.js";
import {clear, confirm, dialog, h, showError, toast} from "../ui.js";

// A small Markdown subset (headings, code blocks, lists, paragraphs, inline code), built
// from text nodes only.
function markdown(text) {
  const out = h("div", {class: "markdown"});
  let code = null;
  let list = null;
  let para = [];
  const flush = () => {
    if (para.length) out.append(h("p", {}, inline(para.join(" "))));
    para = [];
  };
  for (const raw of text.split("\n")) {
    if (raw.startsWith("```")) {
      flush();
      if (code) { out.append(code); code = null; } else { code = h("pre"); }
      continue;
    }
    if (code) { code.append(`${raw}\n`); continue; }
    const heading = raw.match(/^(#{1,4})\s+(.*)/);
    const item = raw.match(/^\s*[-*]\s+(.*)/);
    if (heading || item || !raw.trim()) flush();
    if (!item && (heading || !raw.trim())) list = null;
    if (heading) out.append(h(`h${Math.min(heading[1].length + 1, 5)}`, {text: heading[2]}));
    else if (item) {
      if (!list) { list = h("ul"); out.append(list); }
      list.append(h("li", {}, inline(item[1])));
    } else if (raw.trim()) {
      if (list && /^\s+/.test(raw)) list.lastChild.append(` ${raw.trim()}`);
      else { list = null; para.push(raw.trim()); }
    }
  }
  flush();
  if (code) out.append(code);
  return out;
}

function inline(text) {
  return text.split(/(`[^`]+`)/).map((part) => (part.startsWith("`") && part.endsWith("`")
    ? h("code", {text: part.slice(1, -1)}) : part));
}

export default {
  title: "Plugins",
  mount(root) {
    const grid = h("div", {class: "cards", id: "plugin-cards"});
    const pkg = h("input", {id: "plugin-package", placeholder: "package[==version]"});
    root.append(h("div", {class: "toolbar"}, h("h1", {text: "Plugins"}), h("span", {class: "spacer"}),
      h("form", {class: "toolbar admin-only", onsubmit: (ev) => { ev.preventDefault(); install(); }},
        pkg, h("button", {type: "submit", class: "btn primary"}, "Install"))), grid);

    async function post(action, body, what) {
      try {
        await api("POST", `/api/plugins/${action}`, body);
        toast(`${what}: ${action} done`, "ok");
      } catch (e) { showError(e); }
      load();
    }

    async function install() {
      if (!pkg.value) return;
      toast(`installing ${pkg.value} …`);
      await post("install", {package: pkg.value}, pkg.value);
    }

    async function readme(name) {
      try {
        const text = await api("GET", `/api/plugins/${encodeURIComponent(name)}/readme`);
        await dialog({title: `${name}: README`, body: [markdown(String(text))],
                      buttons: [{label: "Close", value: true, class: "primary"}]});
      } catch (e) { showError(e); }
    }

    async function load() {
      try {
        const plugins = await api("GET", "/api/plugins");
        clear(grid).append(...plugins.map((p) => h("article", {class: "card", dataset: {id: p.name}},
          h("div", {class: "card-head"},
            h("div", {class: "card-title"}, h("strong", {text: p.name}),
              h("span", {class: "sub", text: `${p.version || "?"} · ${p.distribution || "?"}`})),
            h("span", {class: `badge ${p.enabled ? "status-running" : "status-stopped"}`,
                       text: p.enabled ? (p.builtin ? "built in" : "installed") : "disabled"})),
          h("p", {text: p.description || ""}),
          h("div", {class: "actions"},
            p.has_readme ? h("button", {type: "button", class: "btn small",
                                        onclick: () => readme(p.name)}, "README") : null,
            h("button", {type: "button", class: "btn small admin-only",
                         onclick: () => post(p.enabled ? "disable" : "enable", {name: p.name}, p.name)},
              p.enabled ? "Disable" : "Enable"),
            p.builtin ? null : h("button", {type: "button", class: "btn small warn admin-only",
              onclick: async () => {
                if (await confirm(`Uninstall ${p.distribution}?`, "pip removes the package.",
                                  {danger: true, ok: "Uninstall"})) post("uninstall", {name: p.name}, p.name);
              }}, "Uninstall")))));
      } catch (e) { showError(e); }
    }
    load();
    return null;
  },
};
