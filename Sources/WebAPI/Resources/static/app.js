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
})();
