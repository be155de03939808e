// Rampart web UI: every change goes through the REST API (/api/v1) with the session's CSRF token.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : null;

  async function api(method, url, body, raw) {
    const headers = { "X-Rampart-Language": document.documentElement.lang };
    if (csrf) headers["X-CSRF-Token"] = csrf;
    let payload;
    if (raw !== undefined) {
      headers["Content-Type"] = "application/octet-stream";
      payload = raw;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.message) || response.status + " " + response.statusText);
      error.data = data;
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function show(form, text, ok) {
    const result = form.querySelector(".result") || document.getElementById("action-result");
    if (!result) return;
    result.textContent = text;
    result.className = "result " + (ok ? "ok" : "error");
  }

  function markField(form, field) {
    form.querySelectorAll(".invalid").forEach((element) => element.classList.remove("invalid"));
    if (!field) return;
    const input = form.querySelector('[name="' + field.replace(/^settings\./, "") + '"]');
    if (input) input.classList.add("invalid");
  }

  function setPath(target, path, value) {
    const keys = path.split(".");
    let node = target;
    keys.slice(0, -1).forEach((key) => { node = node[key] = node[key] || {}; });
    node[keys[keys.length - 1]] = value;
  }

  function formJSON(form) {
    const object = {};
    form.querySelectorAll("input[name], select[name], textarea[name]").forEach((input) => {
      if (input.type === "radio" && !input.checked) return;
      let value = input.value;
      const type = input.dataset.type;
      if (type === "bool" || input.type === "checkbox") value = input.checked;
      else if (type === "number") value = Number(value);
      else if (type === "list") value = value.split(",").map((item) => item.trim()).filter((item) => item.length);
      setPath(object, input.name, value);
    });
    return object;
  }

  function renderDiagnostics(list, diagnostics) {
    if (!list) return;
    list.textContent = "";
    if (!diagnostics.length) {
      const item = document.createElement("li");
      item.className = "none";
      item.textContent = list.dataset.none;
      list.appendChild(item);
      return;
    }
    diagnostics.forEach((diagnostic) => {
      const item = document.createElement("li");
      item.className = diagnostic.severity;
      item.textContent = diagnostic.file + ":" + diagnostic.line + ": " + diagnostic.message;
      list.appendChild(item);
    });
  }

  function on(selector, event, handler) {
    document.querySelectorAll(selector).forEach((element) => element.addEventListener(event, async (e) => {
      e.preventDefault();
      try { await handler(element, e); } catch (error) {
        const form = element.closest("form") || element.closest(".actions") || document.body;
        show(form, error.message, false);
        if (form.tagName === "FORM") markField(form, error.data && error.data.field);
      }
    }));
  }

  on("form[data-login]", "submit", async (form) => {
    const body = formJSON(form);
    const session = await api("POST", "/api/v1/session", { user: body.user, password: body.password });
    window.location.href = session.mustChangePassword ? "/account/password" : "/";
  });

  on("form[data-password]", "submit", async (form) => {
    const body = formJSON(form);
    if (body.new !== body.repeat) { show(form, form.dataset.mismatch, false); markField(form, "repeat"); return; }
    markField(form, null);
    await api("POST", "/api/v1/account/password", { current: body.current, new: body.new });
    window.location.href = "/";
  });

  on("[data-logout]", "click", async () => {
    await api("DELETE", "/api/v1/session");
    window.location.href = "/login";
  });

  on("[data-language]", "click", async (button) => {
    await api("PUT", "/api/v1/account/language", { language: button.dataset.language });
    window.location.reload();
  });

  on("form[data-json]", "submit", async (form) => {
    let body = formJSON(form);
    if (form.dataset.time !== undefined) body = { utc: new Date(body.utc + "Z").toISOString().replace(/\.\d+Z$/, "Z") };
    if (form.dataset.settings !== undefined) body = { version: Number(form.dataset.version), settings: body };
    const answer = await api(form.dataset.method || "POST", form.dataset.json, body);
    markField(form, null);
    if (answer && answer.version !== undefined) form.dataset.version = answer.version;
    if (form.dataset.show && answer && answer[form.dataset.show]) {
      show(form, answer[form.dataset.show], true);
      return;
    }
    const saved = document.documentElement.lang === "ru" ? "Сохранено." : "Saved.";
    show(form, (answer && answer.detail) || saved, !(answer && answer.applied === false));
  });

  on("form[data-create-profile]", "submit", async (form) => {
    const body = formJSON(form);
    await api("POST", form.dataset.createProfile, { name: body.name, template: body.template || null });
    window.location.href = form.dataset.then + encodeURIComponent(body.name);
  });

  on("form[data-editor]", "submit", async (form) => {
    const text = form.querySelector("textarea").value;
    const answer = await api("PUT", form.dataset.editor, undefined, new TextEncoder().encode(text));
    renderDiagnostics(document.getElementById("diagnostics"), answer.diagnostics);
    const errors = answer.diagnostics.filter((diagnostic) => diagnostic.severity === "error").length;
    show(form, errors ? errors + " ✗" : "✓", errors === 0);
  });

  on("form[data-upload]", "submit", async (form) => {
    const file = form.querySelector('input[type="file"]').files[0];
    if (!file) return;
    await api("PUT", form.dataset.upload + encodeURIComponent(file.name), undefined, await file.arrayBuffer());
    window.location.reload();
  });

  on("[data-post]", "click", async (button) => {
    const answer = await api("POST", button.dataset.post);
    show(button.closest(".actions") || document.body, (answer && answer.detail) || "✓", !answer || answer.applied !== false);
    setTimeout(() => window.location.reload(), 600);
  });

  on("[data-delete]", "click", async (button) => {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    await api("DELETE", button.dataset.delete);
    if (button.dataset.then) window.location.href = button.dataset.then; else window.location.reload();
  });
  // --- Events, audit and forwarding pages -------------------------------------------------------------------

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function localTime(iso) {
    const date = new Date(iso);
    return isNaN(date) ? iso : date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function fieldsOf(event) {
    const fields = {};
    (Array.isArray(event.fields) ? event.fields : Object.entries(event.fields || {}).map(([name, value]) => ({ name, value })))
      .forEach((field) => { fields[field.name] = field.value; });
    return fields;
  }

  function checkedValues(container, name) {
    return Array.from(container.querySelectorAll('input[name="' + name + '"]:checked')).map((input) => input.value);
  }

  function fillEmpty(body, count, text) {
    if (count) return;
    const row = document.createElement("tr");
    row.className = "empty";
    const td = cell(row, text);
    td.colSpan = 5;
    body.appendChild(row);
  }

  const eventsTable = document.getElementById("events-table");
  if (eventsTable) {
    const body = eventsTable.querySelector("tbody");
    const filters = document.getElementById("events-entities");
    const toggle = document.getElementById("events-auto-update");
    let sort = "-time";
    let source = null;

    const eventRow = (event) => {
      const row = document.createElement("tr");
      row.dataset.sequence = event.sequence;
      row.dataset.entity = event.entity;
      cell(row, event.entity);
      cell(row, event.type);
      const fields = fieldsOf(event);
      const detail = Object.entries(fields).map(([name, value]) => name + "=" + value).join(" ");
      const title = cell(row, event.title);
      if (detail) title.title = detail;
      cell(row, localTime(event.time));
      return row;
    };

    const load = async () => {
      const params = new URLSearchParams({ sort, limit: "1000" });
      const wanted = checkedValues(filters, "entity");
      const all = filters.querySelectorAll('input[name="entity"]').length;
      if (wanted.length < all) wanted.forEach((entity) => params.append("entity", entity));
      if (wanted.length === 0) params.append("entity", "\u0000none");
      const page = await api("GET", eventsTable.dataset.events + "?" + params);
      body.textContent = "";
      page.items.forEach((event) => body.appendChild(eventRow(event)));
      fillEmpty(body, page.items.length, eventsTable.dataset.empty);
      const held = document.getElementById("events-held");
      if (held) held.textContent = page.total;
    };

    const follow = () => {
      if (source) { source.close(); source = null; }
      if (!toggle.checked) return;
      source = new EventSource(eventsTable.dataset.stream);
      source.addEventListener("security-event", (message) => {
        const event = JSON.parse(message.data);
        if (!checkedValues(filters, "entity").includes(event.entity)) {
          if (filters.querySelector('input[value="' + CSS.escape(event.entity) + '"]')) return;
        }
        const empty = body.querySelector("tr.empty");
        if (empty) empty.remove();
        const row = eventRow(event);
        if (sort === "-time") body.insertBefore(row, body.firstChild); else body.appendChild(row);
        const badge = filters.querySelector('[data-count="' + CSS.escape(event.entity) + '"]');
        if (badge) badge.textContent = Number(badge.textContent) + 1;
      });
    };

    filters.addEventListener("change", () => load().catch(() => {}));
    toggle.addEventListener("change", () => { load().then(follow).catch(() => {}); });
    eventsTable.querySelectorAll("button.sort").forEach((button) => button.addEventListener("click", () => {
      sort = button.dataset.sort === sort && sort === "-time" ? "time" : button.dataset.sort;
      load().catch(() => {});
    }));
    load().then(follow).catch(() => {});
  }

  const auditTable = document.getElementById("audit-table");
  if (auditTable) {
    const body = auditTable.querySelector("tbody");
    const severities = document.getElementById("audit-severities");
    const period = document.getElementById("audit-period");
    const labels = JSON.parse(auditTable.dataset.labels);
    const toggle = document.getElementById("audit-auto-update");
    let sort = "newestFirst";
    let timer = null;

    const load = async () => {
      const params = new URLSearchParams({ sort, period: period.value, limit: "1000" });
      const wanted = checkedValues(severities, "severity");
      if (wanted.length < 3) wanted.forEach((severity) => params.append("severity", severity));
      if (wanted.length === 0) params.append("entity", "\u0000none");
      const page = await api("GET", auditTable.dataset.audit + "?" + params);
      body.textContent = "";
      page.items.forEach((entry) => {
        const event = entry.event;
        const row = document.createElement("tr");
        row.dataset.sequence = event.sequence;
        row.dataset.severity = event.severity;
        const fields = fieldsOf(event);
        cell(row, labels[event.severity] || event.severity, "sev " + event.severity);
        const title = cell(row, event.title);
        const extra = Object.entries(fields).filter(([name]) => name !== "user" && name !== "src");
        if (extra.length) title.title = extra.map(([name, value]) => name + "=" + value).join(" ");
        cell(row, event.entity);
        cell(row, [fields.user, fields.src].filter(Boolean).join(" @ "));
        cell(row, localTime(event.time));
        body.appendChild(row);
      });
      fillEmpty(body, page.items.length, auditTable.dataset.empty);
      const total = document.getElementById("audit-total");
      if (total) total.textContent = page.summary.count;
    };

    severities.addEventListener("change", () => load().catch(() => {}));
    period.addEventListener("change", () => load().catch(() => {}));
    toggle.addEventListener("change", () => {
      if (timer) { clearInterval(timer); timer = null; }
      if (toggle.checked) timer = setInterval(() => load().catch(() => {}), 2000);
    });
    auditTable.querySelectorAll("button.sort").forEach((button) => button.addEventListener("click", () => {
      sort = button.dataset.sort === sort && sort === "newestFirst" ? "oldestFirst" : button.dataset.sort;
      load().catch(() => {});
    }));

    on("#audit-download", "click", async (button) => {
      if (!window.confirm(button.dataset.confirm)) return;
      const headers = { "X-Rampart-Language": document.documentElement.lang };
      if (csrf) headers["X-CSRF-Token"] = csrf;
      const response = await fetch(button.dataset.export, { method: "POST", headers, credentials: "same-origin" });
      if (!response.ok) {
        let message = response.status + " " + response.statusText;
        try { message = (await response.json()).message || message; } catch (e) { /* not JSON */ }
        throw new Error(message);
      }
      const blob = await response.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "audit.csv";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      const result = document.getElementById("audit-result");
      result.textContent = "audit.csv: " + response.headers.get("X-Rampart-Exported");
      result.className = "result ok";
      const full = document.getElementById("audit-full");
      if (full) full.remove();
      await load();
    });

    on("#audit-verify", "click", async (button) => {
      const answer = await api("GET", button.dataset.verify);
      const result = document.getElementById("verify-result");
      const broken = answer.firstBroken !== undefined && answer.firstBroken !== null;
      result.textContent = broken
        ? button.dataset.broken + " " + answer.firstBroken + ": " + answer.reason
        : button.dataset.intact + " (" + answer.checked + ")";
      result.className = "result " + (broken ? "error" : "ok");
    });

    load().catch(() => {});
  }

  document.querySelectorAll("input[data-load-into]").forEach((input) => input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    document.getElementById(input.dataset.loadInto).value = await file.text();
  }));

  function forwardingBody(form) {
    const settings = formJSON(form);
    const secret = settings.secret;
    const remove = settings.removeSecret;
    delete settings.secret;
    delete settings.removeSecret;
    const body = { settings };
    if (remove) body.secret = "";
    else if (secret) body.secret = secret;
    return body;
  }

  on("form[data-forwarding]", "submit", async (form) => {
    const body = forwardingBody(form);
    body.version = Number(form.dataset.version);
    const answer = await api("PUT", form.dataset.forwarding, body);
    markField(form, null);
    form.dataset.version = answer.version;
    form.querySelectorAll('textarea[name="secret"]').forEach((area) => { area.value = ""; });
    show(form, answer.detail, answer.applied !== false);
  });

  on("[data-forwarding-test]", "click", async (button) => {
    const form = button.closest("form");
    show(form, document.documentElement.lang === "ru" ? "Выполняется…" : "Working…", true);
    const answer = await api("POST", form.dataset.forwarding + "/test", forwardingBody(form));
    show(form, answer.detail, answer.delivered);
  });
})();
