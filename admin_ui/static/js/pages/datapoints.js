// Datapoints: one tree over all instances, search, live values of the open level only,
// and writing to writable points: a write shows pending, then confirmed (the device
// reported the value back) or failed with the reason. A point a route writes says so.
import {api} from "../api.js";
import * as live from "../live.js";
import {clear, fmtTime, fmtValue, h, parseValue, showError, toast} from "../ui.js";

const LIMIT = 500;

export default {
  title: "Datapoints",
  mount(root, params) {
    const prefix = params.get("prefix") || "";
    const q = params.get("q") || "";
    const rows = new Map();  // address -> {row, value, ts, quality}
    const crumbs = h("nav", {class: "crumbs", id: "crumbs", "aria-label": "tree path"});
    const nodes = h("div", {class: "nodes", id: "dp-nodes"});
    const tbody = h("tbody");
    const note = h("p", {class: "muted", id: "dp-note"});
    const search = h("input", {type: "search", id: "dp-search", value: q,
                               placeholder: prefix ? `search under ${prefix}` : "search all",
                               "aria-label": "search"});
    const form = h("form", {class: "toolbar", onsubmit: (ev) => {
      ev.preventDefault();
      const p = new URLSearchParams({prefix});
      if (search.value) p.set("q", search.value);
      location.hash = `#/datapoints?${p}`;
    }}, h("h1", {text: "Datapoints"}), h("span", {class: "spacer"}), search,
       h("button", {type: "submit", class: "btn"}, "Search"));
    root.append(form, crumbs, nodes,
      h("div", {class: "table-wrap"}, h("table", {id: "dp-table"},
        h("thead", {}, h("tr", {}, h("th", {text: "Datapoint"}), h("th", {text: "Value"}),
          h("th", {text: "Unit"}), h("th", {class: "hide-narrow", text: "Quality"}),
          h("th", {class: "hide-narrow", text: "Updated"}), h("th", {text: ""}))), tbody)),
      note);

    const go = (p) => `#/datapoints?${new URLSearchParams({prefix: p})}`;
    crumbs.append(h("a", {href: go(""), text: "all"}));
    let acc = "";
    for (const part of prefix.split(".").filter(Boolean)) {
      acc += `${part}.`;
      crumbs.append(h("span", {class: "muted", text: "›"}), h("a", {href: go(acc), text: part}));
    }

    function setStatus(el, kind, text) {
      el.className = `write-status ${kind}`;
      el.textContent = text;
    }

    async function write(dp, input, status) {
      const value = parseValue(input.value);
      const routes = dp.routes_in || [];
      setStatus(status, "pending", "pending…");
      try {
        await api("PUT", `/api/datapoints/${encodeURIComponent(dp.address)}`, {value});
        const later = routes.length ? ` (route ${routes.join(", ")} will overwrite it)` : "";
        setStatus(status, "ok", `confirmed${later}`);
        toast(`${dp.address} ← ${fmtValue(value)}: confirmed${later}`, routes.length ? "" : "ok");
      } catch (e) {
        // the API says "refused: <reason>" or "timeout: <reason>"
        setStatus(status, "failed", `failed: ${e.message}`);
        showError(e);
      }
    }

    function row(dp) {
      const label = q ? dp.address : dp.address.slice(prefix.length);
      const valueCell = h("td", {class: "value", dataset: {field: "value"}, text: fmtValue(dp.value),
                                 title: fmtValue(dp.value)});
      const tsCell = h("td", {class: "hide-narrow muted", text: fmtTime(dp.ts)});
      const qCell = h("td", {class: "hide-narrow", text: `${dp.quality}${dp.ack ? "" : " (cmd)"}`});
      const routes = dp.routes_in || [];
      let writeCell = h("td");
      if (dp.meta && dp.meta.writable) {
        const input = h("input", {"aria-label": `new value for ${dp.address}`,
                                  value: fmtValue(dp.value)});
        const status = h("span", {class: "write-status", role: "status"});
        const warn = routes.length ? h("div", {class: "write-warning", text:
          `route ${routes.join(", ")} writes this datapoint: a value written here is ` +
          "overwritten when it fires"}) : "";
        writeCell = h("td", {}, h("form", {class: "write-form operator-only", onsubmit: (ev) => {
          ev.preventDefault(); write(dp, input, status);
        }}, input, h("button", {type: "submit", class: "btn small primary"}, "Write"), status),
        warn);
      }
      const nameCell = h("td", {class: "mono", title: dp.address, text: label});
      if (routes.length) {
        nameCell.append(h("span", {class: "routed-by", title: `written by route ${routes.join(", ")}`,
                                   text: `← ${routes.join(", ")}`}));
      }
      const tr = h("tr", {dataset: {address: dp.address}}, nameCell, valueCell,
        h("td", {text: dp.unit || ""}), qCell, tsCell, writeCell);
      rows.set(dp.address, {tr, valueCell, tsCell, qCell});
      return tr;
    }

    // A datapoint of this level that appeared after the page loaded (a connection just
    // added, a device's first poll): load the level again, at most once a second; one the
    // reload does not list either is not asked for again.
    let reloading = null;
    const asked = new Set();
    function appeared(address) {
      if (q || asked.has(address) || rows.size >= LIMIT || !address.startsWith(prefix)
          || address.slice(prefix.length).includes(".")) return;
      asked.add(address);
      reloading = reloading || setTimeout(async () => {
        await load();
        reloading = null;
      }, 1000);
    }

    function onChanges(msg) {
      const touched = [];
      for (const [address, value, ts, quality, ack] of msg.items) {
        const r = rows.get(address);
        if (!r) { appeared(address); continue; }
        r.valueCell.textContent = r.valueCell.title = fmtValue(value);
        r.tsCell.textContent = fmtTime(ts);
        r.qCell.textContent = `${quality}${ack ? "" : " (cmd)"}`;
        touched.push(r.tr);
      }
      if (!touched.length) return;
      touched.forEach((tr) => tr.classList.remove("flash"));
      void tbody.offsetWidth;  // one reflow restarts every row's animation
      touched.forEach((tr) => tr.classList.add("flash"));
    }

    async function load() {
      try {
        if (q) {
          const res = await api("GET", `/api/datapoints?${new URLSearchParams({prefix, q, limit: LIMIT})}`);
          clear(nodes);
          clear(tbody).append(...res.datapoints.map(row));
          note.textContent = `${res.total} match${res.total === 1 ? "" : "es"}` +
            (res.total > res.datapoints.length ? `, showing ${res.datapoints.length}` : "");
          const addrs = res.datapoints.map((d) => d.address);
          live.subscribe(addrs.length <= 50 ? addrs : (prefix ? [prefix] : []));
          return;
        }
        const res = await api("GET", `/api/datapoints?${new URLSearchParams({prefix, limit: LIMIT})}`);
        clear(nodes).append(...res.children.map((c) => h("a", {
          class: "node", href: go(c.prefix), dataset: {prefix: c.prefix}},
          h("span", {class: "mono", text: c.name}), h("span", {class: "count", text: String(c.count)}))));
        clear(tbody).append(...res.datapoints.map(row));
        note.textContent = res.leaves_total > res.datapoints.length
          ? `showing ${res.datapoints.length} of ${res.leaves_total} here; search to narrow`
          : `${res.total} datapoint${res.total === 1 ? "" : "s"} under ${prefix || "all instances"}`;
        // live values only for what this level shows (and, on an instance's level, the
        // datapoints it does not have yet)
        live.subscribe(res.datapoints.length || prefix ? [prefix] : []);
      } catch (e) {
        note.textContent = "";
        clear(tbody);
        showError(e);
      }
    }

    const off = live.on("changes", onChanges);
    const offOpen = live.on("open", load);
    load();
    return () => { off(); offOpen(); clearTimeout(reloading); };
  },
};
