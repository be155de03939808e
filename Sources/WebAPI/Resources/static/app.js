// Rampart web UI: every change goes through the REST API (/api/v1) with the session's CSRF token.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : null;
  // The gateway's clock minus this browser's, from the Date header of the last answer, for countdowns to a time the
  // gateway named. The header has whole seconds, so a difference of up to two seconds counts as clocks in step.
  let serverClockOffset = 0;

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
    const served = Date.parse(response.headers.get("Date") || "");
    if (!isNaN(served)) {
      const offset = served + 500 - Date.now();
      serverClockOffset = Math.abs(offset) > 2000 ? offset : 0;
    }
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

  // --- Firewall page ------------------------------------------------------------------------------------------
  // Built from GET /api/v1/firewall. Every change answers a change report; the page then reads everything again,
  // so what it shows is what the gateway holds, never what the page hoped to set.

  const firewall = document.getElementById("firewall");
  if (firewall) {
    const base = firewall.dataset.api;
    const words = JSON.parse(firewall.dataset.strings);
    const say = (key) => words[key] || key;
    const globalMessage = document.getElementById("fw-message");
    const ruleDialog = document.getElementById("fw-rule-dialog");
    let view = null;
    let hits = {};
    let lastChange = null;
    let countdown = null;

    const byId = (id) => document.getElementById(id);
    const field = (form, name) => form.querySelector('[name="' + name + '"]');
    const trimmed = (form, name) => field(form, name).value.trim();

    function element(tag, text, className) {
      const node = document.createElement(tag);
      if (text !== undefined && text !== null) node.textContent = text;
      if (className) node.className = className;
      return node;
    }

    function button(text, className, title, handler) {
      const node = element("button", text, className);
      node.type = "button";
      if (title) { node.title = title; node.setAttribute("aria-label", title); }
      node.addEventListener("click", (event) => { event.preventDefault(); handler(node); });
      return node;
    }

    function messageArea(form) {
      return (form && form.querySelector(".fw-message")) || globalMessage;
    }

    function message(target, text, kind, extra) {
      target.textContent = "";
      target.hidden = !text;
      target.className = "fw-message " + (kind || "");
      if (!text) return;
      target.appendChild(element("span", text));
      if (extra) target.appendChild(extra);
    }

    function clearMessages(form) {
      message(globalMessage, "");
      if (form) {
        message(messageArea(form), "");
        form.querySelectorAll(".invalid").forEach((node) => node.classList.remove("invalid"));
        form.querySelectorAll(".field-error").forEach((node) => node.remove());
      }
    }

    // A field error names a path of the whole configuration (`rules[3].source`, `natRules[0].wanPort`); a form
    // edits one item, so the last component names its input. Returns the errors no input of the form shows.
    function markFields(form, details) {
      if (!form) return details;
      return details.filter((detail) => {
        const name = String(detail.field || "").replace(/^.*\]\.?/, "").replace(/^.*\./, "");
        const input = name ? field(form, name) : null;
        if (!input) return true;
        input.classList.add("invalid");
        input.insertAdjacentElement("afterend", element("span", detail.message, "field-error"));
        return false;
      });
    }

    function failed(error, form) {
      const data = error.data || {};
      const details = data.details || (data.field ? [{ field: data.field, message: data.message }] : []);
      markFields(form, details);
      let extra = null;
      if (data.code === "lockout" && lastChange && lastChange.forceable) {
        extra = button(say("fwApplyAnyway"), "danger small", null, () => retryForced());
        extra.id = "fw-force";
      }
      message(messageArea(form), error.message, "error", extra);
      if (data.code === "confirmation_pending") load().catch(() => {});
    }

    function reported(report, form) {
      if (!report) return;
      const changes = report.changes || [];
      const text = (changes.length ? changes.join("; ") : say("fwNothingChanged"))
        + (report.detail ? " — " + report.detail : "");
      message(messageArea(form), text, report.applied === false ? "warn" : "ok");
      if (report.confirmBy) showPending({ deadline: report.confirmBy, changes });
    }

    // One change through the API: its report (or its refusal) is shown where it was asked for.
    async function change(method, url, body, form, forceable = true) {
      clearMessages(form);
      lastChange = { method, url, body, form, forceable };
      firewall.dataset.busy = "true";
      let answer = null;
      try {
        answer = await api(method, url, body);
      } catch (error) {
        failed(error, form);
        return null;
      } finally {
        delete firewall.dataset.busy;
      }
      reported(answer && answer.report ? answer.report : answer, form);
      await load().catch((error) => message(globalMessage, error.message, "error"));
      return answer || {};
    }

    function retryForced() {
      const last = lastChange;
      if (!last) return;
      if (last.method === "DELETE") {
        change("DELETE", last.url + (last.url.includes("?") ? "&" : "?") + "force=true", undefined, last.form);
      } else {
        change(last.method, last.url, Object.assign({}, last.body, { force: true }), last.form);
      }
    }

    function showPending(pending) {
      const banner = byId("fw-pending");
      if (countdown) { clearInterval(countdown); countdown = null; }
      banner.hidden = !pending;
      if (!pending) return;
      const list = byId("fw-pending-changes");
      list.textContent = "";
      (pending.changes || []).forEach((line) => list.appendChild(element("li", line)));
      const deadline = Date.parse(pending.deadline);
      banner.dataset.deadline = pending.deadline;
      const tick = () => {
        const left = Math.max(0, Math.ceil((deadline - (Date.now() + serverClockOffset)) / 1000));
        byId("fw-countdown").textContent = left;
        if (left > 0) return;
        clearInterval(countdown);
        countdown = null;
        awaitRevert(pending.deadline, view ? view.version : null, 10);
      };
      tick();
      if (!countdown && Date.now() + serverClockOffset < deadline) countdown = setInterval(tick, 250);
    }

    // The gateway reverts an unconfirmed change at its deadline: read what holds until the revert is saved (a new
    // version; the change stops being pending a moment before that), a few tries a second apart.
    function awaitRevert(deadline, version, tries) {
      setTimeout(() => load().then(() => {
        const waiting = (view.pending && view.pending.deadline === deadline) || view.version === version;
        if (waiting && tries > 1) awaitRevert(deadline, version, tries - 1);
      }).catch(() => {}), 1000);
    }

    // --- Reading

    async function load() {
      view = await api("GET", base);
      render();
      await Promise.all([loadCounters().catch(() => {}), loadRuleset().catch(() => {})]);
      firewall.dataset.version = view.version;
    }

    async function loadCounters() {
      const counters = await api("GET", base + "/counters");
      hits = {};
      counters.forEach((counter) => { hits[counter.rule] = counter; });
      document.querySelectorAll("#fw-rules td[data-hits]").forEach((td) => {
        td.textContent = hitsText(hits[td.dataset.hits]);
        td.title = hitsTitle(hits[td.dataset.hits]);
      });
    }

    async function loadRuleset() {
      const rulesets = await api("GET", base + "/ruleset");
      const applied = rulesets.applied !== undefined && rulesets.applied !== null;
      const shown = byId("ruleset-applied");
      shown.textContent = applied ? rulesets.applied : rulesets.compiled;
      shown.dataset.source = applied ? "kernel" : "compiled";
      byId("ruleset-note").hidden = applied;
      byId("ruleset-applied-title").textContent = say(applied ? "fwRulesetApplied" : "fwCompiled");
      byId("ruleset-compiled").textContent = rulesets.compiled;
    }

    // The packets a rule matched; its bytes in the cell's tooltip.
    function hitsText(counter) {
      return counter ? String(counter.packets) : "0";
    }

    function hitsTitle(counter) {
      const units = ["B", "KiB", "MiB", "GiB", "TiB"];
      let size = counter ? counter.bytes : 0;
      let unit = 0;
      while (size >= 1024 && unit < units.length - 1) { size /= 1024; unit += 1; }
      return (counter ? counter.packets : 0) + " pkt / " + (unit ? size.toFixed(1) : size) + " " + units[unit];
    }

    // --- Rendering

    function render() {
      const configuration = view.configuration;
      const applied = byId("fw-applied");
      applied.textContent = say(view.state.applied ? "fwApplied" : "fwNotApplied");
      applied.className = "badge " + (view.state.applied ? "ok" : "bad");
      applied.dataset.applied = view.state.applied;
      byId("fw-applied-detail").textContent = view.state.detail + (view.state.at ? " · " + localTime(view.state.at) : "");
      const type = byId("fw-device-type");
      type.textContent = say("fw_" + configuration.deviceType);
      type.dataset.deviceType = configuration.deviceType;
      const order = byId("fw-stage-order");
      order.textContent = "";
      view.stageOrder.forEach((path) => {
        const block = element("div", null, "fw-path");
        block.dataset.path = path.path;
        if (view.stageOrder.length > 1) block.appendChild(element("div", say("fwPath_" + path.path), "muted"));
        const list = element("ol", null, "stages");
        path.stages.forEach((title) => list.appendChild(element("li", words["title:" + title] || title)));
        block.appendChild(list);
        order.appendChild(block);
      });
      byId("fw-emergency").checked = configuration.emergency;
      byId("fw-masquerade").checked = configuration.masquerade;
      const banner = byId("fw-pending");
      if (!view.pending) showPending(null);
      else if (banner.hidden || banner.dataset.deadline !== view.pending.deadline) showPending(view.pending);
      renderRules();
      ["allowlist", "denylist"].forEach(renderList);
      renderProtocols();
      renderForwards();
    }

    function emptyRow(body, columns, text) {
      const row = element("tr", null, "empty");
      const td = cell(row, text);
      td.colSpan = columns;
      body.appendChild(row);
    }

    // A selector of a rule, "any" when empty; an address range may wrap after its dash.
    function valueCell(row, text, className) {
      const td = cell(row, text ? "" : say("fwAny"), (className || "") + (text ? "" : " any"));
      (text || "").split("-").forEach((part, index) => {
        if (index) { td.appendChild(document.createTextNode("-")); td.appendChild(document.createElement("wbr")); }
        td.appendChild(document.createTextNode(part));
      });
      return td;
    }

    const ruleURL = (id) => base + "/rules/" + id;

    function ruleBody(rule) {
      return {
        enabled: rule.enabled, action: rule.action, zone: rule.zone, protocol: rule.protocol, source: rule.source,
        sourcePort: rule.sourcePort, destination: rule.destination, destinationPort: rule.destinationPort,
        comment: rule.comment,
      };
    }

    function renderRules() {
      const rules = view.configuration.rules;
      const body = document.querySelector("#fw-rules tbody");
      body.textContent = "";
      byId("fw-rules-count").textContent = "(" + rules.length + " / " + view.maximumRules + ")";
      const shadows = {};
      view.shadowed.forEach((finding) => { (shadows[finding.rule] = shadows[finding.rule] || []).push(finding.message); });
      rules.forEach((rule, index) => {
        const row = element("tr", null, (rule.enabled ? "" : "disabled") + (shadows[rule.id] ? " shadowed" : ""));
        row.dataset.rule = rule.id;
        // The position is also the "move to" control: type another and press Enter (the change event).
        const position = cell(row, "", "position");
        const target = element("input", null, "move-position");
        target.type = "number";
        target.min = 1;
        target.max = rules.length;
        target.value = index + 1;
        target.title = say("fwMoveTo") + " · id " + rule.id;
        target.setAttribute("aria-label", say("fwMoveTo"));
        target.addEventListener("change", () => {
          const wanted = Number(target.value);
          if (!Number.isInteger(wanted) || wanted < 1) { target.classList.add("invalid"); return; }
          if (wanted !== index + 1) change("POST", ruleURL(rule.id) + "/move", { position: wanted - 1 });
        });
        position.appendChild(target);
        // The status: the box is checked when the rule is enabled; unchecking it disables the rule.
        const status = cell(row, "", "status");
        status.dataset.enabled = rule.enabled;
        const box = element("input");
        box.type = "checkbox";
        box.checked = rule.enabled;
        box.className = "rule-enabled";
        box.title = say(rule.enabled ? "fwEnabled" : "fwDisabled");
        box.setAttribute("aria-label", box.title);
        box.addEventListener("change", async () => {
          const answer = await change("PUT", ruleURL(rule.id), Object.assign(ruleBody(rule), { enabled: box.checked }));
          if (!answer) box.checked = rule.enabled;
        });
        status.appendChild(box);
        cell(row, say("fw_" + rule.action), "action-" + rule.action);
        cell(row, rule.zone.toUpperCase());
        valueCell(row, rule.source, "mono");
        valueCell(row, rule.sourcePort);
        valueCell(row, rule.destination, "mono");
        valueCell(row, rule.destinationPort);
        cell(row, rule.protocol === "any" ? say("fwAny") : rule.protocol.toUpperCase(), rule.protocol === "any" ? "any" : "");
        const counted = cell(row, hitsText(hits[rule.id]), "hits");
        counted.dataset.hits = rule.id;
        counted.title = hitsTitle(hits[rule.id]);
        const comment = cell(row, rule.comment, "comment");
        if (shadows[rule.id]) {
          row.title = say("fwShadowed");
          shadows[rule.id].forEach((text) => comment.appendChild(element("div", "⚠ " + text, "shadow-note")));
        }
        const actions = element("div", null, "row-actions");
        const up = button("↑", "small secondary move-up", say("fwMoveUp"),
          () => change("POST", ruleURL(rule.id) + "/move", { direction: "up" }));
        up.disabled = index === 0;
        const down = button("↓", "small secondary move-down", say("fwMoveDown"),
          () => change("POST", ruleURL(rule.id) + "/move", { direction: "down" }));
        down.disabled = index === rules.length - 1;
        const edit = button("✎", "small secondary edit", say("edit"), () => openEditor(rule, index));
        const remove = button("✕", "small danger delete", say("delete"), () => {
          if (!window.confirm(say("fwConfirmDeleteRule").replace("{id}", rule.id))) return;
          change("DELETE", ruleURL(rule.id));
        });
        [up, down, edit, remove].forEach((node) => actions.appendChild(node));
        cell(row, "", "actions").appendChild(actions);
        body.appendChild(row);
      });
      if (!rules.length) emptyRow(body, 12, say("fwNoRules"));
    }

    function ruleFromForm(form) {
      const body = {
        enabled: field(form, "enabled").checked, action: field(form, "action").value, zone: field(form, "zone").value,
        protocol: field(form, "protocol").value, source: trimmed(form, "source"),
        sourcePort: trimmed(form, "sourcePort"), destination: trimmed(form, "destination"),
        destinationPort: trimmed(form, "destinationPort"), comment: trimmed(form, "comment"),
      };
      const position = trimmed(form, "position");
      if (position !== "") body.position = Number(position) - 1;
      return body;
    }

    function openEditor(rule, index) {
      const form = byId("fw-edit-rule");
      clearMessages(form);
      form.dataset.rule = rule.id;
      byId("fw-edit-id").textContent = "#" + (index + 1) + " (id " + rule.id + ")";
      ["action", "zone", "protocol", "source", "sourcePort", "destination", "destinationPort", "comment"]
        .forEach((name) => { field(form, name).value = rule[name]; });
      field(form, "enabled").checked = rule.enabled;
      field(form, "position").value = index + 1;
      ruleDialog.showModal();
    }

    function renderList(name) {
      const body = document.querySelector("#fw-" + name + " tbody");
      body.textContent = "";
      const entries = view.configuration[name];
      entries.forEach((entry) => {
        const row = element("tr");
        row.dataset.address = entry.address;
        cell(row, entry.address, "mono");
        cell(row, entry.expires ? localTime(entry.expires) : say("fwNever"), entry.expires ? "" : "any");
        cell(row, say("fw_" + entry.source));
        cell(row, entry.comment, "comment");
        cell(row, "").appendChild(button(say("delete"), "small danger delete", null, () => {
          if (!window.confirm(say("confirmDelete"))) return;
          change("DELETE", base + "/lists/" + name + "?address=" + encodeURIComponent(entry.address));
        }));
        body.appendChild(row);
      });
      if (!entries.length) emptyRow(body, 5, say("fwEmptyList"));
    }

    function renderProtocols() {
      const list = byId("fw-protocol-list");
      list.textContent = "";
      const blocked = new Set(view.configuration.blockedProtocols);
      view.catalogue.forEach((application) => {
        const label = element("label", null, "choice");
        const box = element("input");
        box.type = "checkbox";
        box.name = "blocked";
        box.value = application.id;
        box.checked = blocked.has(application.id);
        label.appendChild(box);
        label.appendChild(element("span", application.name));
        label.appendChild(element("span", application.ports, "muted"));
        list.appendChild(label);
      });
    }

    function renderForwards() {
      const body = document.querySelector("#fw-forwards tbody");
      body.textContent = "";
      const forwards = view.configuration.natRules;
      forwards.forEach((forward) => {
        const row = element("tr", null, forward.enabled ? "" : "disabled");
        row.dataset.forward = forward.id;
        cell(row, forward.protocol.toUpperCase());
        cell(row, forward.wanPort);
        cell(row, forward.lanAddress, "mono");
        cell(row, forward.lanPort || forward.wanPort);
        cell(row, forward.comment, "comment");
        cell(row, "").appendChild(button(say("delete"), "small danger delete", null, () => {
          if (!window.confirm(say("confirmDelete"))) return;
          change("DELETE", base + "/nat/" + forward.id, undefined, null, false);
        }));
        body.appendChild(row);
      });
      if (!forwards.length) emptyRow(body, 6, say("fwNoForwards"));
    }

    function renderTrace(result) {
      byId("trace-result").hidden = false;
      const verdict = byId("trace-verdict");
      verdict.textContent = say("fw_" + result.verdict);
      verdict.dataset.verdict = result.verdict;
      verdict.className = "badge " + (result.verdict === "accept" ? "ok" : "bad");
      byId("trace-stage").textContent = words["stage:" + result.stage] || result.stageTitle;
      byId("trace-rule").textContent = result.rule;
      byId("trace-summary").textContent = result.summary + (result.counter ? " (" + result.counter + ")" : "");
      byId("trace-chain").textContent = result.chain + " · " + result.hook;
      const passed = byId("trace-passed");
      passed.textContent = "";
      result.passed.forEach((stage) => passed.appendChild(element("li", words["stage:" + stage] || stage)));
      if (!result.passed.length) passed.appendChild(element("li", say("fwNone"), "any"));
      const nat = result.translation;
      document.querySelectorAll("#trace-result .trace-nat").forEach((node) => { node.hidden = !nat; });
      byId("trace-translation").textContent = nat
        ? nat.rule + ": → " + nat.destination + (nat.destinationPort ? ":" + nat.destinationPort : "") : "";
    }

    // --- Actions

    function submit(form, handler) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        handler(form).catch((error) => message(messageArea(form), error.message, "error"));
      });
    }

    byId("fw-confirm").addEventListener("click", async () => {
      clearMessages(null);
      try {
        await api("POST", base + "/confirm");
        message(globalMessage, say("fwKept"), "ok");
      } catch (error) {
        failed(error, null);
      }
      await load().catch(() => {});
    });

    byId("fw-device-change").addEventListener("click", () => {
      const next = view && view.configuration.deviceType === "router" ? "unidirectional" : "router";
      const key = next === "router" ? "fwToRouter" : "fwToUnidirectional";
      if (!window.confirm(say(key) + "\n\n" + say(key + "Effect"))) return;
      change("PUT", base + "/device-type", { deviceType: next });
    });

    const emergency = byId("fw-emergency");
    emergency.addEventListener("change", async () => {
      const on = emergency.checked;
      if (on && !window.confirm(say("fwEmergencyConfirm"))) { emergency.checked = false; return; }
      if (!(await change("PUT", base + "/emergency", { enabled: on }))) emergency.checked = !on;
    });

    const masquerade = byId("fw-masquerade");
    masquerade.addEventListener("change", async () => {
      const on = masquerade.checked;
      if (!(await change("PUT", base + "/masquerade", { enabled: on }))) masquerade.checked = !on;
    });

    submit(byId("fw-add-rule"), async (form) => {
      const answer = await change("POST", base + "/rules", ruleFromForm(form), form);
      if (answer) form.reset();
    });

    submit(byId("fw-edit-rule"), async (form) => {
      if (await change("PUT", ruleURL(form.dataset.rule), ruleFromForm(form), form)) {
        ruleDialog.close();
        message(globalMessage, messageArea(form).textContent, "ok");
      }
    });
    byId("fw-edit-cancel").addEventListener("click", () => ruleDialog.close());

    document.querySelectorAll("form.fw-list-form").forEach((form) => submit(form, async () => {
      const body = { address: trimmed(form, "address"), comment: trimmed(form, "comment") };
      const ttl = trimmed(form, "ttlSeconds");
      if (ttl !== "") body.ttlSeconds = Number(ttl);
      const at = trimmed(form, "expires");
      if (at !== "") body.expires = new Date(at + "Z").toISOString().replace(/\.\d+Z$/, "Z");
      if (await change("POST", base + "/lists/" + form.dataset.list, body, form)) {
        ["address", "ttlSeconds", "expires", "comment"].forEach((name) => { field(form, name).value = ""; });
      }
    }));

    submit(byId("fw-protocols"), async (form) => {
      const blocked = Array.from(form.querySelectorAll('input[name="blocked"]:checked')).map((box) => box.value);
      await change("PUT", base + "/protocols", { blocked }, form);
    });

    submit(byId("fw-forward-add"), async (form) => {
      const body = {
        protocol: field(form, "protocol").value, wanPort: trimmed(form, "wanPort"),
        lanAddress: trimmed(form, "lanAddress"), lanPort: trimmed(form, "lanPort"), comment: trimmed(form, "comment"),
      };
      if (await change("POST", base + "/nat", body, form, false)) {
        ["wanPort", "lanAddress", "lanPort", "comment"].forEach((name) => { field(form, name).value = ""; });
      }
    });

    submit(byId("fw-trace"), async (form) => {
      clearMessages(form);
      const body = {
        ingress: field(form, "ingress").value, egress: field(form, "egress").value,
        source: trimmed(form, "source"), destination: trimmed(form, "destination"),
        protocol: field(form, "protocol").value, state: field(form, "state").value,
      };
      ["sourcePort", "destinationPort"].forEach((name) => {
        if (trimmed(form, name) !== "") body[name] = Number(trimmed(form, name));
      });
      if (trimmed(form, "icmpType") !== "") body.icmpType = trimmed(form, "icmpType");
      byId("trace-result").hidden = true;
      try {
        renderTrace(await api("POST", base + "/explain", body));
      } catch (error) {
        failed(error, form);
      }
    });

    byId("fw-refresh-counters").addEventListener("click", () => loadCounters().catch(() => {}));
    byId("fw-ruleset-refresh").addEventListener("click", () => loadRuleset().catch(() => {}));
    byId("fw-show-compiled").addEventListener("change", (event) => {
      byId("ruleset-compiled-box").hidden = !event.target.checked;
    });

    load().catch((error) => message(globalMessage, error.message, "error"));
  }
})();
