// Routes: the table in force with counters, JSON editor with the broker's validation,
// and the dry-run tester.
import {api} from "../api.js";
import {clear, fmtTime, fmtValue, h, parseValue, problemList, showError, toast} from "../ui.js";

export default {
  title: "Routes",
  mount(root) {
    const tbody = h("tbody");
    const warnings = h("div", {id: "route-warnings"});
    const editor = h("textarea", {id: "routes-editor", rows: 16, spellcheck: "false",
                                  "aria-label": "routing.json"});
    const problems = h("div", {id: "routes-problems"});
    const testAddr = h("input", {id: "test-address", placeholder: "address, e.g. bms_001.voltage"});
    const testValue = h("input", {id: "test-value", placeholder: "value, e.g. 52.1"});
    const testOut = h("div", {id: "test-result"});
    let timer = null;

    root.append(
      h("div", {class: "toolbar"}, h("h1", {text: "Routes"})),
      warnings,
      h("div", {class: "table-wrap"}, h("table", {id: "routes-table"},
        h("thead", {}, h("tr", {}, ["Route", "From", "To", "Fired", "Suppressed", "Errors",
                                    "Refused", "Last fired"].map((t) => h("th", {text: t})))), tbody)),
      h("h2", {text: "Dry run"}),
      h("form", {class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); dryRun(); }},
        testAddr, testValue, h("button", {type: "submit", class: "btn", id: "test-run"}, "Test")),
      testOut,
      h("h2", {text: "Edit routing.json"}),
      h("div", {class: "panel admin-only"}, editor,
        h("div", {class: "toolbar", style: "margin-top:8px"},
          h("button", {type: "button", class: "btn", id: "routes-validate", onclick: validate}, "Validate"),
          h("button", {type: "button", class: "btn primary", id: "routes-save", onclick: save}, "Save"),
          h("button", {type: "button", class: "btn", onclick: () => load(true)}, "Revert")),
        problems));

    function parseEditor() {
      try {
        return JSON.parse(editor.value);
      } catch (e) {
        clear(problems).append(problemList([`not valid JSON: ${e.message}`]));
        return null;
      }
    }

    async function validate() {
      const doc = parseEditor();
      if (!doc) return;
      try {
        const res = await api("POST", "/api/router/validate", doc);
        clear(problems).append(
          h("p", {class: res.valid ? "" : "error", text: res.valid ? "valid" : "invalid"}),
          problemList(res.errors, res.warnings));
      } catch (e) {
        clear(problems).append(h("p", {class: "error", text: e.message}),
                               problemList(Array.isArray(e.detail) ? e.detail : []));
      }
    }

    async function save() {
      const doc = parseEditor();
      if (!doc) return;
      try {
        const res = await api("PUT", "/api/router/routes", doc);
        clear(problems).append(h("p", {text: "saved and in force"}),
                               problemList([], (res && res.warnings) || []));
        toast("routes saved", "ok");
        load(true);
      } catch (e) {
        clear(problems).append(h("p", {class: "error", text: e.message}),
                               problemList(Array.isArray(e.detail) ? e.detail : []));
      }
    }

    async function dryRun() {
      try {
        const res = await api("POST", "/api/router/test", {address: testAddr.value,
                                                           value: parseValue(testValue.value)});
        const items = res.routes.map((r) => h("li", {},
          h("strong", {text: r.route}), r.fired ? " fires" : ` does not fire: ${r.reason}`,
          h("ul", {}, (r.steps || []).map((s) => h("li", {class: "mono",
                                                          text: `${s.transform}: ${fmtValue(s.value)}`})),
            (r.deliveries || []).map((d) => h("li", {class: "mono",
                                                     text: `→ ${d.target} = ${fmtValue(d.value)}`})))));
        clear(testOut).append(h("div", {class: "panel"}, items.length ? h("ul", {}, items)
          : h("p", {class: "muted", text: "no route matches this address"})));
      } catch (e) { showError(e); }
    }

    async function load(fillEditor = false) {
      let res;
      try { res = await api("GET", "/api/router/routes"); } catch (e) { showError(e); return; }
      const counters = res.counters || {};
      clear(tbody).append(...res.routes.map((r) => {
        const c = counters[r.id] || {};
        const to = Array.isArray(r.to) ? r.to.join(", ") : r.to;
        return h("tr", {dataset: {route: r.id}, class: r.enabled === false ? "muted" : ""},
          h("td", {class: "mono", text: r.id}), h("td", {class: "mono", text: r.from}),
          h("td", {class: "mono", text: to}), h("td", {class: "num", dataset: {field: "fired"}, text: String(c.fired ?? 0)}),
          h("td", {class: "num", text: String(c.suppressed ?? 0)}),
          h("td", {class: "num", title: c.last_error || "", text: String(c.errors ?? 0)}),
          h("td", {class: "num", title: c.last_refusal || "", dataset: {field: "refused"},
                   text: String(c.refused ?? 0)}),
          h("td", {class: "muted", text: fmtTime(c.last_fired_ts)}));
      }));
      if (!res.routes.length) tbody.append(h("tr", {}, h("td", {colspan: 8, class: "empty", text: "No routes."})));
      clear(warnings).append(problemList([], res.warnings || []));
      if (fillEditor || !editor.value) {
        editor.value = JSON.stringify({version: "1.0", routes: res.routes}, null, 2);
      }
    }

    load(true);
    timer = setInterval(() => load(false), 2000);
    return () => clearInterval(timer);
  },
};
