// The API docs page: renders /schema/openapi.json with plain DOM calls (textContent only, no framework, nothing
// loaded from another host), so the docs work offline and a confidential deployment contacts no third party.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const METHODS = ["get", "post", "put", "patch", "delete"];

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key in node && !key.includes("-")) node[key] = value; else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // Descriptions use `backticks` for code: render those as <code>, everything else as text.
  function prose(text) {
    const out = el("span");
    String(text || "").split("`").forEach((part, i) => out.append(i % 2 ? el("code", {}, part) : part));
    return out;
  }

  const refName = (ref) => String(ref).split("/").pop();
  const slug = (text) => String(text).replace(/[^A-Za-z0-9_-]+/g, "-");

  // A short, linked description of a schema's type: Case, Case[], string | null, "read" | "write"...
  function typeOf(schema) {
    if (!schema || typeof schema !== "object") return el("span", {}, "any");
    if (schema.$ref) return el("a", { href: `#schema-${slug(refName(schema.$ref))}` }, refName(schema.$ref));
    const alternatives = schema.oneOf || schema.anyOf;
    if (alternatives) {
      const out = el("span");
      alternatives.forEach((alt, i) => { if (i) out.append(" | "); out.append(typeOf(alt)); });
      return out;
    }
    if (schema.enum) return el("span", {}, schema.enum.map((v) => JSON.stringify(v)).join(" | "));
    if (schema.type === "array") return el("span", {}, typeOf(schema.items), "[]");
    if (schema.type === "object" && schema.additionalProperties && typeof schema.additionalProperties === "object") {
      return el("span", {}, "map of ", typeOf(schema.additionalProperties));
    }
    const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type || "any";
    return el("span", {}, schema.format ? `${type} (${schema.format})` : type);
  }

  function propertiesTable(schema) {
    const props = schema.properties || {};
    const required = new Set(schema.required || []);
    const body = el("tbody");
    for (const [name, prop] of Object.entries(props)) {
      body.append(el("tr", {}, el("td", {}, el("code", {}, name), required.has(name) ? " (required)" : ""),
        el("td", {}, typeOf(prop)), el("td", {}, prose(prop.description || ""))));
    }
    return el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Field"), el("th", {}, "Type"),
      el("th", {}, "Description"))), body);
  }

  function content(title, media) {
    const box = el("div", {}, el("h3", {}, title));
    for (const [type, spec] of Object.entries(media || {})) {
      box.append(el("p", {}, el("code", {}, type), " ", typeOf(spec.schema)));
    }
    return box;
  }

  function operation(method, path, op, schema) {
    const id = `op-${slug(op.operationId || `${method}-${path}`)}`;
    const body = el("div");
    if (op.description) body.append(el("p", {}, prose(op.description)));
    const security = op.security === undefined ? schema.security : op.security;
    body.append(el("p", { className: "muted" },
      security && security.length ? `Needs: ${security.map((s) => Object.keys(s).join(" + ")).join(", or ")}`
        : "Public: no credentials needed."));
    const params = op.parameters || [];
    if (params.length) {
      const rows = el("tbody");
      for (const p of params) {
        rows.append(el("tr", {}, el("td", {}, el("code", {}, p.name), p.required ? " (required)" : ""),
          el("td", {}, p.in), el("td", {}, typeOf(p.schema)), el("td", {}, prose(p.description || ""))));
      }
      body.append(el("h3", {}, "Parameters"), el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Name"),
        el("th", {}, "In"), el("th", {}, "Type"), el("th", {}, "Description"))), rows));
    }
    if (op.requestBody) body.append(content("Request body", op.requestBody.content));
    const responses = el("tbody");
    for (const [status, resp] of Object.entries(op.responses || {})) {
      const types = el("td");
      for (const spec of Object.values(resp.content || {})) types.append(typeOf(spec.schema), " ");
      responses.append(el("tr", {}, el("td", {}, status), el("td", {}, prose(resp.description || "")), types));
    }
    body.append(el("h3", {}, "Responses"), el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Status"),
      el("th", {}, "Meaning"), el("th", {}, "Body"))), responses));
    const details = el("details", { className: "op", id },
      el("summary", {}, el("span", { className: `method ${method}` }, method), el("span", { className: "path" }, path),
        el("span", {}, op.summary || "")), body);
    details.dataset.search = `${method} ${path} ${op.summary || ""} ${(op.tags || []).join(" ")}`.toLowerCase();
    return details;
  }

  function render(schema) {
    const info = schema.info || {};
    document.title = `${info.title || "API"} API`;
    $("title").textContent = `${info.title || "API"} API`;
    $("version").textContent = info.version ? `Version ${info.version} · OpenAPI ${schema.openapi || ""}` : "";
    $("description").replaceChildren(prose(info.description || ""));
    const byTag = new Map((schema.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
    for (const [path, item] of Object.entries(schema.paths || {})) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const tag = (op.tags && op.tags[0]) || "other";
        if (!byTag.has(tag)) byTag.set(tag, { tag: { name: tag }, ops: [] });
        byTag.get(tag).ops.push(operation(method, path, op, schema));
      }
    }
    const box = $("operations");
    for (const { tag, ops } of byTag.values()) {
      if (!ops.length) continue;
      const id = `tag-${slug(tag.name)}`;
      $("tags").append(el("a", { href: `#${id}` }, tag.name));
      box.append(el("section", { id, className: "tag", "aria-labelledby": `${id}-h` },
        el("h2", { id: `${id}-h` }, tag.name), tag.description ? el("p", {}, prose(tag.description)) : null, ...ops));
    }
    const schemas = (schema.components && schema.components.schemas) || {};
    for (const [name, s] of Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))) {
      const section = el("section", { className: "schema", id: `schema-${slug(name)}` }, el("h3", {}, name));
      if (s.description) section.append(el("p", {}, prose(s.description)));
      if (s.properties) section.append(propertiesTable(s)); else section.append(el("p", {}, typeOf(s)));
      $("schemas").append(section);
    }
    $("schemas-section").hidden = false;
    $("filter-form").hidden = false;
    const count = box.querySelectorAll("details.op").length;
    $("status").textContent = `${count} operations.`;
  }

  function filter(text) {
    const words = text.toLowerCase().split(/\s+/).filter(Boolean);
    for (const details of document.querySelectorAll("details.op")) {
      details.hidden = !words.every((w) => details.dataset.search.includes(w));
    }
    for (const section of document.querySelectorAll("section.tag")) {
      section.hidden = !section.querySelector("details.op:not([hidden])");
    }
  }

  async function start() {
    $("filter-form").addEventListener("submit", (e) => e.preventDefault());
    $("filter").addEventListener("input", (e) => filter(e.target.value));
    try {
      const resp = await fetch("/schema/openapi.json", { headers: { Accept: "application/json" } });
      if (!resp.ok) throw new Error(`The server answered ${resp.status}.`);
      render(await resp.json());
      if (location.hash) {
        const target = document.getElementById(location.hash.slice(1));
        if (target) { if (target.tagName === "DETAILS") target.open = true; target.scrollIntoView(); }
      }
    } catch (err) {
      $("status").textContent = `The schema could not be loaded: ${err.message}`;
    }
  }

  start();
})();
