// Forms generated from a JSON Schema (a worker type's config_schema), so a new plugin
// gets a usable form without UI code. What the manifests use is understood:
// - simple properties (enum, string, integer, number, boolean) become inputs; a default
//   shows as a placeholder and is not written into the config;
// - `if`/`then`/`else` (also inside `allOf`) on an enum discriminator such as
//   `transport`: a property a branch in force forbids (`{"not": {}}` or `false`) is
//   hidden and not saved
//   (Modbus TCP shows host/port, RTU the serial settings), its `required` adds a star;
// - nested objects become a fieldset; arrays of objects a table editor (add, remove,
//   reorder) whose columns are the item schema's `x-columns` (or its simple
//   properties); a row's other properties open under "more";
// - anything else (oneOf, free-form maps) is a JSON text box.
// Every input has an error slot named by its config path (`host`,
// `registers[1].address`): `showErrors` puts the API's validation errors there.
import {clear, h} from "./ui.js";

const SIMPLE_TYPES = ["string", "integer", "number", "boolean"];

function deref(schema, root) {
  let s = schema;
  for (let n = 0; n < 10 && s && typeof s.$ref === "string" && s.$ref.startsWith("#/"); n++) {
    let target = root;
    for (const part of s.$ref.slice(2).split("/")) target = target ? target[part] : undefined;
    const {$ref, ...rest} = s;
    s = {...(target || {}), ...rest};
  }
  return s || {};
}

function isSimple(prop) {
  return Boolean(prop.enum) || SIMPLE_TYPES.includes(prop.type);
}

// Whether `values` satisfy an `if` schema: the subset manifests use (required, const, enum).
function satisfies(cond, values) {
  for (const name of cond.required || []) if (values[name] === undefined) return false;
  for (const [name, p] of Object.entries(cond.properties || {})) {
    const v = values[name];
    if (v === undefined || typeof p !== "object") continue;
    if ("const" in p && v !== p.const) return false;
    if (p.enum && !p.enum.includes(v)) return false;
  }
  return true;
}

// The then/else branches in force for `values` (of the schema and of each allOf entry).
function branches(schema, values) {
  const out = [];
  for (const s of [schema, ...(schema.allOf || [])]) {
    if (!s || !s.if) continue;
    const b = satisfies(s.if, values) ? s.then : s.else;
    if (b) out.push(b);
  }
  return out;
}

// `false` or `{"not": {}}`: a branch's way of saying a key does not belong.
function forbidden(prop) {
  return prop === false || (typeof prop === "object" && prop !== null && prop.not !== undefined
    && typeof prop.not === "object" && Object.keys(prop.not).length === 0);
}

// The properties whose value decides a branch: they redraw the form when changed.
function discriminators(schema) {
  const out = new Set();
  for (const s of [schema, ...(schema.allOf || [])]) {
    if (s && s.if) Object.keys(s.if.properties || {}).forEach((k) => out.add(k));
  }
  return out;
}

function errorSlot(path) {
  return h("div", {class: "field-error", dataset: {path, rel: path}, role: "alert"});
}

// One input for a simple property; returns {input, read}.
function simpleInput(id, prop, current, {required = false, pick = false, compact = false} = {}) {
  let input;
  let read;
  if (prop.enum) {
    const blank = prop.default !== undefined && !pick
      ? (compact ? `(${prop.default})` : `default (${prop.default})`)
      : (required || pick ? "– choose –" : "–");
    const chosen = current !== undefined ? current : (pick ? prop.default : undefined);
    input = h("select", {id},
      h("option", {value: "", selected: chosen === undefined}, blank),
      prop.enum.map((v) => h("option", {value: JSON.stringify(v), selected: v === chosen},
                               String(v))));
    read = () => (input.value === "" ? undefined : JSON.parse(input.value));
  } else if (prop.type === "boolean") {
    input = h("input", {id, type: "checkbox",
                        checked: (current !== undefined ? current : prop.default) === true});
    // saved only when it differs from the default (or is asked for)
    read = () => (input.checked === (prop.default ?? false) && current === undefined
      ? undefined : input.checked);
  } else if (prop.type === "integer" || prop.type === "number") {
    input = h("input", {id, type: "number", step: prop.type === "integer" ? "1" : "any",
                        value: current ?? "", min: prop.minimum, max: prop.maximum,
                        placeholder: prop.default !== undefined ? String(prop.default) : ""});
    read = () => (input.value === "" ? undefined : Number(input.value));
  } else {
    input = h("input", {id, value: current ?? "", autocomplete: "off",
                        type: prop.writeOnly ? "password" : "text",
                        placeholder: prop.default !== undefined ? String(prop.default) : ""});
    read = () => (input.value === "" ? undefined : input.value);
  }
  if (prop.description) input.title = prop.description;
  return {input, read};
}

function jsonInput(id, name, current) {
  const input = h("textarea", {id, rows: 3, placeholder: "JSON", class: "json",
                               text: current === undefined ? "" : JSON.stringify(current, null, 1)});
  const read = () => {
    if (input.value.trim() === "") return undefined;
    try { return JSON.parse(input.value); } catch (e) {
      throw new FieldError(name, "not valid JSON");
    }
  };
  return {input, read};
}

// A value the form cannot read (bad JSON): shown at its field like the API's errors.
export class FieldError extends Error {
  constructor(path, message) { super(`${path}: ${message}`); this.path = path; this.reason = message; }
}

function tableEditor(idBase, path, itemSchema, root, rows0) {
  const item = deref(itemSchema, root);
  const props = item.properties || {};
  const required = new Set(item.required || []);
  const columns = (item["x-columns"] || Object.keys(props).filter((k) => isSimple(deref(props[k], root))))
    .filter((k) => props[k]);
  const others = Object.fromEntries(Object.entries(props).filter(([k]) => !columns.includes(k)));
  const body = h("tbody");
  let rows = [];

  const draw = () => {
    clear(body);
    rows.forEach((row, n) => {
      row.tr.dataset.row = String(n);
      row.up.disabled = n === 0;
      row.down.disabled = n === rows.length - 1;
      row.cells.forEach(([name, slot]) => { slot.dataset.path = `${path}[${n}].${name}`; });
      row.more.dataset.path = `${path}[${n}]`;
      row.sub.el.querySelectorAll(".field-error").forEach((s) => {
        s.dataset.path = `${path}[${n}].${s.dataset.rel}`;
      });
      body.append(row.tr, row.moreTr);
    });
    count.textContent = `${rows.length} row${rows.length === 1 ? "" : "s"}`;
  };

  const addRow = (values = {}) => {
    const readers = {};
    const cells = [];
    const tds = columns.map((name) => {
      const prop = deref(props[name], root);
      const id = `${idBase}-${rows.length}-${name}-${Math.random().toString(36).slice(2, 7)}`;
      const {input, read} = simpleInput(id, prop, values[name], {required: required.has(name),
                                                                 compact: true});
      input.setAttribute("aria-label", name);
      input.dataset.col = name;
      readers[name] = read;
      const slot = errorSlot("");
      cells.push([name, slot]);
      return h("td", {}, input, slot);
    });
    const extra = Object.fromEntries(Object.entries(values).filter(
      ([k]) => !columns.includes(k) && !(k in others)));
    const sub = objectForm(`${idBase}-${Math.random().toString(36).slice(2, 7)}`, "",
                           {type: "object", properties: others}, root, values);
    const row = {cells, readers, sub, extra};
    row.up = h("button", {type: "button", class: "btn small", title: "move up", text: "↑",
                          onclick: () => move(row, -1)});
    row.down = h("button", {type: "button", class: "btn small", title: "move down", text: "↓",
                            onclick: () => move(row, 1)});
    row.more = errorSlot("");
    const moreBtn = h("button", {type: "button", class: "btn small", title: "more settings",
                                 text: "…", onclick: () => { row.moreTr.hidden = !row.moreTr.hidden; }});
    row.moreTr = h("tr", {class: "row-more", hidden: true},
      h("td", {colspan: columns.length + 1}, sub.el));
    row.tr = h("tr", {}, tds,
      h("td", {class: "row-actions"}, row.up, row.down, Object.keys(others).length ? moreBtn : null,
        h("button", {type: "button", class: "btn small warn", title: "remove row", text: "✕",
                     dataset: {action: "remove-row"},
                     onclick: () => { rows = rows.filter((r) => r !== row); draw(); }}),
        row.more));
    rows.push(row);
    draw();
  };

  const move = (row, by) => {
    const n = rows.indexOf(row);
    const m = n + by;
    if (m < 0 || m >= rows.length) return;
    [rows[n], rows[m]] = [rows[m], rows[n]];
    draw();
  };

  const count = h("span", {class: "muted"});
  const table = h("table", {class: "row-editor", dataset: {path}},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", {text: required.has(c) ? `${c} *` : c,
                                                          title: deref(props[c], root).description || ""})),
                    h("th", {}))),
    body);
  (rows0 || []).forEach((r) => addRow(r));
  const el = h("div", {class: "row-editor-box"},
    h("div", {class: "table-wrap"}, table),
    h("div", {class: "toolbar"},
      h("button", {type: "button", class: "btn small", id: `${idBase}-add`, text: "+ Add row",
                   onclick: () => addRow({})}), count));
  const read = () => {
    if (!rows.length) return undefined;
    return rows.map((row) => {
      const out = {...row.extra, ...row.sub.read()};
      for (const [name, fn] of Object.entries(row.readers)) {
        const v = fn();
        if (v !== undefined) out[name] = v;
      }
      return out;
    });
  };
  return {el, read, addRow};
}

// The form of an object schema: {el, read(), values()}; `prefix` is its config path.
export function objectForm(idBase, prefix, schema, root = schema, values = {}) {
  const el = h("div", {class: "form-grid"});
  const state = {...values};
  const fields = {};  // name -> {rowEls, read, hiddenBy}
  const props = schema.properties || {};
  const pickers = discriminators(schema);
  const at = (name) => (prefix ? `${prefix}.${name}` : name);

  for (const [name, raw] of Object.entries(props)) {
    if (raw === false) continue;
    const prop = deref(raw, root);
    const id = `${idBase}-${name}`;
    const current = values[name];
    const slot = errorSlot(at(name));
    let field;
    if (isSimple(prop)) {
      const {input, read} = simpleInput(id, prop, current, {pick: pickers.has(name)});
      input.name = name;
      if (pickers.has(name)) {
        input.addEventListener("change", () => { state[name] = read(); apply(); });
        state[name] = read();
      }
      field = {read, input};
    } else if (prop.type === "object" && prop.properties) {
      const sub = objectForm(id, at(name), prop, root, current || {});
      const box = h("fieldset", {id, class: "sub-form"}, h("legend", {text: name}),
        prop.description ? h("div", {class: "help", text: prop.description}) : null, sub.el);
      field = {read: () => { const v = sub.read(); return Object.keys(v).length ? v : undefined; },
               input: box, wide: true, labelled: true};
    } else if (prop.type === "array" && deref(prop.items || {}, root).properties) {
      const t = tableEditor(id, at(name), prop.items, root, Array.isArray(current) ? current : []);
      t.el.id = id;
      field = {read: t.read, input: t.el, wide: true};
    } else {
      const {input, read} = jsonInput(id, at(name), current);
      field = {read, input};
    }
    const label = field.labelled ? field.input.querySelector("legend")
      : h("label", {for: id, text: name, class: field.wide ? "wide" : null});
    const help = prop.description && !field.labelled
      ? h("div", {class: "help", text: prop.description}) : null;
    if (field.wide) field.input.classList.add("wide");
    field.els = [field.labelled ? null : label, field.input, slot, help].filter(Boolean);
    field.label = label;
    field.name = name;
    fields[name] = field;
    el.append(...field.els);
  }

  // show what the branches in force allow, star what they require
  function apply() {
    const hidden = new Set();
    const required = new Set(schema.required || []);
    for (const b of branches(schema, state)) {
      for (const [k, v] of Object.entries(b.properties || {})) if (forbidden(v)) hidden.add(k);
      for (const k of b.required || []) required.add(k);
    }
    for (const f of Object.values(fields)) {
      f.hidden = hidden.has(f.name);
      f.els.forEach((e) => { e.hidden = f.hidden; });
      f.label.textContent = `${f.name}${required.has(f.name) ? " *" : ""}`;
    }
  }
  apply();

  const read = () => {
    const out = {};
    for (const f of Object.values(fields)) {
      if (f.hidden) continue;
      const v = f.read();
      if (v !== undefined) out[f.name] = v;
    }
    return out;
  };
  return {el, read};
}

// Put each error at the slot of its path inside `scope`; returns the errors no slot took.
// An error is {path, message}; `path` like "host", "registers[1].address" or "" (none).
export function showErrors(scope, errors) {
  scope.querySelectorAll(".field-error").forEach((s) => { s.textContent = ""; });
  scope.querySelectorAll(".has-error").forEach((s) => s.classList.remove("has-error"));
  const left = [];
  for (const err of errors) {
    const slot = err.path ? [...scope.querySelectorAll(".field-error")]
      .find((s) => s.dataset.path === err.path && !s.hidden) : null;
    if (!slot) { left.push(err.path ? `${err.path}: ${err.message}` : err.message); continue; }
    const more = slot.closest("tr.row-more");
    if (more) more.hidden = false;
    slot.textContent = slot.textContent ? `${slot.textContent}; ${err.message}` : err.message;
    const input = slot.previousElementSibling;
    if (input) input.classList.add("has-error");
  }
  const first = scope.querySelector(".field-error:not(:empty)");
  if (first) first.scrollIntoView({block: "nearest"});
  return left;
}
