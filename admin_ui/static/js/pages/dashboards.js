// Dashboards: named tabs of widgets on a 12-column grid (gridstack). View mode for daily
// use; edit mode to drag, resize, add from the palette, configure, delete and undo.
// A dashboard is saved whole (PUT /api/dashboards/<id>) after every change; live values
// come over the page's socket for exactly the datapoints the open dashboard shows.
import {api} from "../api.js";
import * as live from "../live.js";
import {confirm, dialog, h, showError, toast} from "../ui.js";
import {configure} from "./dashboards-editor.js";
import {KINDS, instanceAction, sources} from "./dashboards-widgets.js";
import * as writes from "./dashboards-writes.js";

const UNDO_DEPTH = 30;
const NARROW = 700;  // below this the grid is one column in reading order, view only
const TEMPLATE_TYPES = new Set(["bms", "modbus", "mbus", "simulator"]);
// display rate: how often a tile may repaint (per second; 0: every change the server
// pushes, up to 4 a second), a setting of this browser. A value arriving sooner waits
// (only the newest is kept) and is shown when the tile's time comes; a tile quiet for
// longer shows a change at once (a switch's new state is not delayed).
const RATES = [[0, "live"], [2, "2 / s"], [1, "1 / s"]];
const DEFAULT_RATE = 2;
const RATE_KEY = "dashboards.rate";

function displayRate() {
  const stored = Number(localStorage.getItem(RATE_KEY) ?? DEFAULT_RATE);
  return RATES.some(([r]) => r === stored) ? stored : DEFAULT_RATE;
}
let vendor = null;

function loadVendor() {
  if (!vendor) {
    const css = (href) => document.head.append(h("link", {rel: "stylesheet", href}));
    css("/static/vendor/gridstack/gridstack.css");
    css("/static/vendor/uplot/uPlot.min.css");
    const grid = new Promise((resolve, reject) => {
      document.head.append(h("script", {src: "/static/vendor/gridstack/gridstack-all.js",
                                        onload: resolve, onerror: () => reject(new Error("gridstack did not load"))}));
    });
    vendor = Promise.all([grid, import("../../vendor/uplot/uPlot.esm.js")])
      .then(([, m]) => ({GridStack: window.GridStack, uPlot: m.default}));
  }
  return vendor;
}

function canEdit() { return ["admin", "operator"].includes(live.state.role); }

export default {
  title: "Dashboards",
  mount(root, params) {
    let boards = [];
    let board = null;  // {id, title, order, widgets: {id: widget}}
    let editing = false;
    const undo = [];
    let grid = null;
    let libs = null;
    const mounted = new Map();  // widget id -> {el, inst, widget}
    const byAddress = new Map();  // address -> [mounted widget]
    // a tile out of sight keeps only the latest value per datapoint, applied when it
    // scrolls into view (a trend keeps collecting: it needs every point)
    const seen = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const m = mounted.get(e.target.dataset.id);
        if (!m) continue;
        m.visible = e.isIntersecting;
        if (m.visible) { catchUp(m); if (m.inst.shown) m.inst.shown(); }
      }
    });
    const values = new Map();  // address -> {value, ts, quality, ack, unit}
    let saving = null, dirty = false;
    let quiet = 0;
    let columns = window.innerWidth < NARROW ? 1 : 12;  // > 0 while the page itself moves widgets (no undo step, no save)

    const tabs = h("nav", {class: "dash-tabs", id: "dash-tabs", "aria-label": "dashboards"});
    const saved = h("span", {class: "muted dash-saved", id: "dash-saved", dataset: {state: "saved"}});
    const editBtn = h("button", {type: "button", class: "btn", id: "dash-edit", hidden: !canEdit(),
                                 onclick: () => setEditing(!editing)}, "Edit");
    const undoBtn = h("button", {type: "button", class: "btn", id: "dash-undo", disabled: true,
                                 onclick: () => undoLast()}, "Undo");
    const palette = h("div", {class: "dash-palette", id: "dash-palette"},
      h("span", {class: "muted", text: "Add:"}),
      Object.entries(KINDS).map(([kind, k]) => h("button", {type: "button", class: "btn small",
        dataset: {kind}, draggable: "true", title: `drag onto the grid, or click to add a ${k.label}`,
        onclick: () => addWidget(kind)}, k.label)));
    const fileInput = h("input", {type: "file", accept: "application/json,.json", hidden: true,
                                  onchange: () => importFile(fileInput.files[0])});
    const editBar = h("div", {class: "toolbar dash-editbar", id: "dash-editbar", hidden: true},
      palette, h("span", {class: "spacer"}), undoBtn,
      h("button", {type: "button", class: "btn", onclick: () => rename()}, "Rename"),
      h("button", {type: "button", class: "btn danger", id: "dash-delete", onclick: () => removeBoard()}, "Delete dashboard"));
    const exportOne = h("a", {class: "btn", id: "dash-export", download: ""}, "Export");
    const more = h("div", {class: "toolbar dash-more"},
      h("button", {type: "button", class: "btn", id: "dash-new", hidden: !canEdit(), onclick: () => newBoard()}, "+ Dashboard"),
      h("button", {type: "button", class: "btn", id: "dash-template", hidden: !canEdit(), onclick: () => fromInstance()}, "From instance…"),
      exportOne, h("a", {class: "btn", href: "/api/widgets/export", download: "widgets.json"}, "Export all"),
      h("button", {type: "button", class: "btn", hidden: !canEdit(), onclick: () => fileInput.click()}, "Import…"), fileInput);
    const gridEl = h("div", {class: "grid-stack", id: "dash-grid"});
    const empty = h("p", {class: "empty", id: "dash-empty", hidden: true});
    let period = 0;  // ms between two repaints of a tile (from the display rate)
    const rate = h("select", {id: "dash-rate", "aria-label": "display rate",
                              title: "how often a tile shows a new value",
                              onchange: () => setRate(Number(rate.value))},
                   RATES.map(([r, label]) => h("option", {value: r}, label)));
    function setRate(r) {
      localStorage.setItem(RATE_KEY, String(r));
      rate.value = String(r);
      period = r ? 1000 / r : 0;
    }
    setRate(displayRate());
    root.append(h("div", {class: "toolbar"}, h("h1", {text: "Dashboards"}), tabs, h("span", {class: "spacer"}), saved,
                  h("label", {class: "muted"}, "Display", rate), editBtn),
                editBar, gridEl, empty, more);

    // -- model and persistence -------------------------------------------------------
    const snapshot = () => JSON.stringify(board);

    function commit(before) {
      undo.push(before);
      if (undo.length > UNDO_DEPTH) undo.shift();
      undoBtn.disabled = false;
      save();
    }

    async function save() {
      if (saving) { dirty = true; return; }
      saved.dataset.state = "saving";
      saved.textContent = "saving…";
      const {id, title, order, widgets} = board;
      saving = api("PUT", `/api/dashboards/${encodeURIComponent(id)}`, {title, order, widgets});
      try {
        await saving;
        saved.dataset.state = "saved";
        saved.textContent = "saved";
      } catch (e) {
        saved.dataset.state = "error";
        saved.textContent = "not saved";
        showError(e);
      } finally {
        saving = null;
      }
      if (dirty) { dirty = false; save(); }
    }

    function undoLast() {
      if (!undo.length) return;
      board = JSON.parse(undo.pop());
      undoBtn.disabled = !undo.length;
      render();
      save();
    }

    function freeId() {
      const base = board.id.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40);
      let n = Object.keys(board.widgets).length + 1;
      while (board.widgets[`${base}_${String(n).padStart(3, "0")}`]) n += 1;
      return `${base}_${String(n).padStart(3, "0")}`;
    }

    async function addWidget(kind, at = null) {
      const k = KINDS[kind];
      const draft = {type: kind, title: k.label, bindings: {}, options: {}};
      const made = k.bind || k.options.length ? await configure(draft) : draft;
      if (!made) return;
      const before = snapshot();
      const [w, hgt] = k.size;
      const spot = at || {x: 0, y: 1000};  // y beyond the end: gridstack packs it in
      const id = freeId();
      board.widgets[id] = {...made, layout: {x: spot.x, y: spot.y, w, h: hgt}};
      quiet += 1;
      try { mountWidget(id, board.widgets[id]); } finally { quiet -= 1; }
      readLayout();
      commit(before);
      resubscribe();
    }

    async function editWidget(id) {
      const made = await configure(board.widgets[id]);
      if (!made) return;
      const before = snapshot();
      board.widgets[id] = made;
      readLayout();
      render();
      commit(before);
    }

    function deleteWidget(id) {
      const before = snapshot();
      const m = mounted.get(id);
      quiet += 1;
      try { if (m) { grid.removeWidget(m.el); unmountWidget(id); } } finally { quiet -= 1; }
      delete board.widgets[id];
      readLayout();
      commit(before);
      resubscribe();
    }

    // the positions gridstack decided (after packing) become the model
    function readLayout() {
      for (const node of grid.engine.nodes) {
        const id = node.el && node.el.dataset.id;
        if (id && board.widgets[id]) board.widgets[id].layout = {x: node.x, y: node.y, w: node.w, h: node.h};
      }
    }

    // -- widgets in the grid ---------------------------------------------------------
    function mountWidget(id, widget, at = null) {
      const k = KINDS[widget.type];
      const l = at || widget.layout || {};
      const body = h("div", {class: "w-body q-none"});
      const head = h("div", {class: "w-head"}, h("span", {class: "w-title", text: widget.title || ""}),
        h("span", {class: "w-tools"},
          h("button", {type: "button", class: "btn small", "aria-label": "settings", dataset: {act: "configure"},
                       onclick: () => editWidget(id)}, "⚙"),
          h("button", {type: "button", class: "btn small", "aria-label": "delete widget", dataset: {act: "delete"},
                       onclick: () => deleteWidget(id)}, "×")));
      const content = h("div", {class: `grid-stack-item-content widget wk-${widget.type}`}, head, body);
      const el = h("div", {class: "grid-stack-item", dataset: {id, kind: widget.type}, "gs-id": id,
                           "gs-x": l.x ?? 0, "gs-y": l.y ?? 0, "gs-w": l.w ?? (k ? k.size[0] : 2),
                           "gs-h": l.h ?? (k ? k.size[1] : 1)}, content);
      gridEl.append(el);
      grid.makeWidget(el);
      let inst;
      if (!k) {
        body.append(h("p", {class: "error", text: `unknown widget type ${widget.type}`}));
        inst = {update() {}};
      } else {
        inst = k.make(body, widget, {uPlot: libs.uPlot, canWrite: canEdit(), write: writes.write,
                                     restart: (iid) => restart(iid),
                                     visible: () => !mounted.has(id) || mounted.get(id).visible});
        // the tile's quality colour (good, bad, uncertain), touched only when it changes
        const update = inst.update.bind(inst);
        let quality = "q-none";
        inst.update = (address, dp) => {
          const q = `q-${dp.quality || "good"}`;
          if (q !== quality) { body.classList.replace(quality, q); quality = q; }
          update(address, dp);
        };
      }
      const m = {el, inst, widget, visible: true, missed: new Map(), paintedAt: -Infinity};
      mounted.set(id, m);
      seen.observe(el);
      for (const a of sources(widget)) {
        if (!byAddress.has(a)) byAddress.set(a, []);
        byAddress.get(a).push(m);
        if (values.has(a)) inst.update(a, values.get(a));
      }
      if (inst.stats) inst.stats(live.state.instances);
    }

    function unmountWidget(id) {
      const m = mounted.get(id);
      if (!m) return;
      if (m.inst.destroy) m.inst.destroy();
      seen.unobserve(m.el);
      held.delete(m);
      for (const a of sources(m.widget)) {
        const list = (byAddress.get(a) || []).filter((x) => x !== m);
        if (list.length) byAddress.set(a, list); else byAddress.delete(a);
      }
      mounted.delete(id);
    }

    function render() {
      quiet += 1;
      try { draw(); } finally { quiet -= 1; }
      resubscribe();
    }

    function draw() {
      for (const id of [...mounted.keys()]) unmountWidget(id);
      grid.removeAll(true);
      grid.batchUpdate();
      const ids = Object.keys(board.widgets).sort((a, b) => {
        const la = board.widgets[a].layout || {}, lb = board.widgets[b].layout || {};
        return (la.y ?? 0) - (lb.y ?? 0) || (la.x ?? 0) - (lb.x ?? 0);
      });
      // on a phone: one column in reading order (row by row), each at its own height
      let y = 0;
      for (const id of ids) {
        const l = board.widgets[id].layout || {};
        const k = KINDS[board.widgets[id].type];
        const hgt = l.h ?? (k ? k.size[1] : 1);
        mountWidget(id, board.widgets[id], columns === 1 ? {x: 0, y, w: 1, h: hgt} : null);
        y += hgt;
      }
      grid.batchUpdate(false);
      empty.hidden = ids.length > 0;
      empty.textContent = canEdit() ? "This dashboard is empty: press Edit and add widgets from the palette."
        : "This dashboard is empty.";
    }

    // -- live values -----------------------------------------------------------------
    async function resubscribe() {
      const addrs = [...byAddress.keys()];
      live.subscribe([], addrs);
      const missing = addrs.filter((a) => !values.has(a));
      const byInstance = new Map();
      for (const a of missing) {
        const head = a.slice(0, a.indexOf(".") + 1);
        if (head) byInstance.set(head, (byInstance.get(head) || 0) + 1);
      }
      await Promise.all([...byInstance.keys()].map(async (prefix) => {
        try {
          const res = await api("GET", `/api/datapoints?${new URLSearchParams({prefix, q: ".", limit: 10000})}`);
          for (const dp of res.datapoints) if (byAddress.has(dp.address)) deliver(dp.address, dp);
        } catch (e) { /* the live feed fills them in */ }
      }));
    }

    // values are applied once per animation frame, the latest per datapoint
    const queued = new Map();
    let frame = 0;

    function deliver(address, dp) {
      values.set(address, dp);
      queued.set(address, dp);
      if (!frame) frame = requestAnimationFrame(flush);
    }

    // tiles in sight holding a value until their display period is over
    const held = new Set();
    let retry = 0;

    function flush() {
      frame = 0;
      const now = performance.now();
      for (const m of held) {
        if (!m.visible) held.delete(m);  // shown when it scrolls back into view
        else if (now - m.paintedAt >= period) catchUp(m, now);
      }
      for (const [address, dp] of queued) {
        for (const m of byAddress.get(address) || []) {
          if (m.inst.everyValue) { apply(m, address, dp); continue; }
          // a tile updated earlier in this same frame takes the rest of its values too
          if (!m.visible || (m.paintedAt !== now && now - m.paintedAt < period)) {
            m.missed.set(address, dp);
            if (m.visible) held.add(m);
            continue;
          }
          m.paintedAt = now;
          apply(m, address, dp);
        }
      }
      queued.clear();
      if (held.size && !retry) {  // the held values are shown even if no new one comes
        let due = Infinity;
        for (const m of held) due = Math.min(due, m.paintedAt + period);
        retry = setTimeout(() => {
          retry = 0;
          if (!frame) frame = requestAnimationFrame(flush);
        }, Math.max(0, due - performance.now()));
      }
    }

    function apply(m, address, dp) {
      try { m.inst.update(address, dp); } catch (e) { console.error(e); }
    }

    function catchUp(m, now = performance.now()) {
      held.delete(m);
      if (m.missed.size) m.paintedAt = now;
      for (const [address, dp] of m.missed) apply(m, address, dp);
      m.missed.clear();
    }

    function onChanges(msg) {
      for (const [address, value, ts, quality, ack, unit] of msg.items) {
        writes.seen(address, value, ack);
        if (byAddress.has(address)) deliver(address, {value, ts, quality, ack, unit});
      }
    }

    function onStats(msg) {
      for (const m of mounted.values()) if (m.inst.stats) m.inst.stats(msg.instances);
    }

    async function restart(iid) {
      if (!await confirm("Restart instance", `Restart ${iid}?`, {ok: "Restart"})) return;
      try { await instanceAction(iid, "restart"); toast(`${iid} restarting`, "ok"); } catch (e) { showError(e); }
    }

    // -- dashboards (tabs) -----------------------------------------------------------
    function drawTabs() {
      tabs.replaceChildren(...boards.map((b) => h("a", {href: `#/dashboards?d=${encodeURIComponent(b.id)}`,
        class: `dash-tab${board && b.id === board.id ? " active" : ""}`, dataset: {id: b.id}, text: b.title})));
      exportOne.href = board ? `/api/widgets/export?dashboard=${encodeURIComponent(board.id)}` : "#";
    }

    async function open(id) {
      const list = await api("GET", "/api/dashboards");
      boards = list.dashboards;
      if (!boards.length) {
        board = {id: "main", title: "Main", order: 0, widgets: {}};
        boards = [{id: "main", title: "Main", order: 0}];
      } else {
        const pick = boards.find((b) => b.id === id) || boards[0];
        const doc = await api("GET", `/api/dashboards/${encodeURIComponent(pick.id)}`);
        board = {id: doc.id, title: doc.title, order: doc.order || 0, widgets: doc.widgets || {}};
      }
      undo.length = 0;
      undoBtn.disabled = true;
      drawTabs();
      render();
    }

    async function newBoard() {
      const name = h("input", {"aria-label": "dashboard name", value: ""});
      const ok = await dialog({title: "New dashboard", body: [h("label", {}, "Name ", name)],
        buttons: [{label: "Cancel", value: false}, {label: "Create", value: true, class: "primary"}],
        onOpen: () => name.focus()});
      if (!ok || !name.value.trim()) return;
      try {
        const made = await api("POST", "/api/dashboards", {title: name.value.trim(), order: boards.length});
        location.hash = `#/dashboards?d=${encodeURIComponent(made.id)}`;
      } catch (e) { showError(e); }
    }

    async function rename() {
      const name = h("input", {"aria-label": "dashboard name", value: board.title});
      const ok = await dialog({title: "Rename dashboard", body: [h("label", {}, "Name ", name)],
        buttons: [{label: "Cancel", value: false}, {label: "Rename", value: true, class: "primary"}]});
      if (!ok || !name.value.trim()) return;
      const before = snapshot();
      board.title = name.value.trim();
      const b = boards.find((x) => x.id === board.id);
      if (b) b.title = board.title; else boards.push({id: board.id, title: board.title});
      drawTabs();
      commit(before);
    }

    async function removeBoard() {
      if (!await confirm("Delete dashboard", `Delete "${board.title}" and its ${Object.keys(board.widgets).length} widgets?`,
                         {danger: true, ok: "Delete"})) return;
      try {
        await api("DELETE", `/api/dashboards/${encodeURIComponent(board.id)}`);
      } catch (e) { if (e.status !== 404) { showError(e); return; } }
      setEditing(false);
      location.hash = "#/dashboards";
      open(null).catch(showError);
    }

    async function fromInstance() {
      const candidates = live.state.instances.filter((i) => TEMPLATE_TYPES.has(i.type));
      if (!candidates.length) { toast("no instance of type bms, modbus, mbus or simulator", "error"); return; }
      const select = h("select", {"aria-label": "instance", id: "dash-template-instance"},
        candidates.map((i) => h("option", {value: i.id}, `${i.id} (${i.type})`)));
      const ok = await dialog({title: "Dashboard from an instance",
        body: [h("p", {class: "muted", text: "A ready dashboard from the instance's datapoints and units."}), select],
        buttons: [{label: "Cancel", value: false}, {label: "Create", value: true, class: "primary"}]});
      if (!ok) return;
      try {
        const made = await api("POST", "/api/dashboards/template", {instance: select.value});
        toast(`dashboard ${made.title} created`, "ok");
        location.hash = `#/dashboards?d=${encodeURIComponent(made.id)}`;
      } catch (e) { showError(e); }
    }

    async function importFile(file) {
      if (!file) return;
      try {
        const doc = JSON.parse(await file.text());
        const res = await api("POST", "/api/widgets/import",
                              {widgets: doc.widgets || {}, dashboards: doc.dashboards || {}, mode: "merge"});
        toast(`imported ${res.imported.length} widgets`, "ok");
        open(board && board.id).catch(showError);
      } catch (e) {
        if (e instanceof SyntaxError) toast(`${file.name} is not JSON: ${e.message}`, "error"); else showError(e);
      } finally { fileInput.value = ""; }
    }

    // -- edit mode -------------------------------------------------------------------
    function setEditing(on) {
      editing = on && canEdit() && window.innerWidth >= NARROW;
      root.classList.toggle("dash-editing", editing);
      editBar.hidden = !editing;
      editBtn.textContent = editing ? "Done" : "Edit";
      editBtn.classList.toggle("primary", editing);
      if (grid) grid.setStatic(!editing);
    }

    function onResize() {
      if (editing && window.innerWidth < NARROW) setEditing(false);
      const want = window.innerWidth < NARROW ? 1 : 12;
      if (grid && board && want !== columns) {
        columns = want;
        grid.column(columns, "none");
        render();
      }
      for (const m of mounted.values()) if (m.inst.resize) m.inst.resize();
    }

    const offChanges = live.on("changes", onChanges);
    const offStats = live.on("stats", onStats);
    const offOpen = live.on("open", () => resubscribe());
    const ticker = setInterval(() => {
      const now = Date.now();
      for (const m of mounted.values()) if (m.inst.tick) m.inst.tick(now);
    }, 1000);
    window.addEventListener("resize", onResize);

    loadVendor().then((v) => {
      libs = v;
      grid = libs.GridStack.init({column: columns, cellHeight: 76, margin: 5, float: false,
        staticGrid: true, animate: false, acceptWidgets: false, removable: false}, gridEl);
      grid.on("change", () => {
        if (!editing || quiet) return;
        const before = snapshot();
        readLayout();
        if (snapshot() !== before) commit(before);
      });
      grid.on("resizestop", (ev, el) => {
        const m = mounted.get(el.dataset.id);
        if (m && m.inst.resize) m.inst.resize();
      });
      // palette buttons can be dragged onto the grid: the drop spot is where the widget goes
      gridEl.addEventListener("dragover", (ev) => { if (editing) ev.preventDefault(); });
      gridEl.addEventListener("drop", (ev) => {
        const kind = ev.dataTransfer.getData("text/x-widget");
        if (!editing || !KINDS[kind]) return;
        ev.preventDefault();
        const cell = grid.getCellFromPixel({left: ev.pageX, top: ev.pageY});
        addWidget(kind, {x: Math.max(0, Math.min(11, cell.x)), y: Math.max(0, cell.y)});
      });
      for (const b of palette.querySelectorAll("button[data-kind]")) {
        b.addEventListener("dragstart", (ev) => ev.dataTransfer.setData("text/x-widget", b.dataset.kind));
      }
      return open(params.get("d"));
    }).catch(showError);

    return () => {
      offChanges(); offStats(); offOpen();
      if (frame) cancelAnimationFrame(frame);
      clearTimeout(retry);
      clearInterval(ticker);
      window.removeEventListener("resize", onResize);
      for (const id of [...mounted.keys()]) unmountWidget(id);
      seen.disconnect();
      writes.forgetAll();
      if (grid) grid.destroy(false);
    };
  },
};
