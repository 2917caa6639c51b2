/* easyflow chat widget: one dependency-free script.
 * <script src="https://YOUR-EASYFLOW/widget.js" data-channel="wk_..." async></script>
 * Optional: data-user-id + data-user-signature (hex HMAC-SHA256 of the id with the widget's identity
 * secret) for a signed-in customer; data-lang="ru|en" (default: the page's language).
 * Messages travel over a WebSocket that reconnects and resumes after the last message seen; when
 * WebSockets are blocked it falls back to HTTP long polling. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-channel]");
  if (!script || window.EasyflowWidget) return;
  var key = script.getAttribute("data-channel");
  var base = new URL(script.src, location.href).origin;
  var api = base + "/widget/v1/" + encodeURIComponent(key);
  var storeKey = "easyflow." + key;

  var TEXT = {
    ru: {
      open: "Открыть чат", close: "Закрыть чат", placeholder: "Напишите сообщение…", send: "Отправить",
      attach: "Прикрепить файл", typing: "Печатает…", greeting: "Здравствуйте! Чем можем помочь?",
      refused: "Чат недоступен на этом сайте.", paused: "Чат временно не работает.",
      offline: "Нет связи. Переподключаемся…", failed: "Не удалось отправить",
      name: "Имя", phone: "Телефон", start: "Начать чат", prechat: "Представьтесь, пожалуйста",
      required: "Заполните это поле", tooLarge: "Файл слишком большой", you: "Вы", assistant: "Ассистент",
      operator: "Оператор", sending: "отправляется", log: "Сообщения чата", file: "Файл", unread: "новых"
    },
    en: {
      open: "Open chat", close: "Close chat", placeholder: "Type a message…", send: "Send",
      attach: "Attach a file", typing: "Typing…", greeting: "Hello! How can we help?",
      refused: "Chat is not available on this site.", paused: "Chat is temporarily unavailable.",
      offline: "Connection lost. Reconnecting…", failed: "Not sent",
      name: "Name", phone: "Phone", start: "Start chat", prechat: "Please introduce yourself",
      required: "Please fill in this field", tooLarge: "The file is too large", you: "You",
      assistant: "Assistant", operator: "Operator", sending: "sending", log: "Chat messages", file: "File", unread: "unread"
    }
  };
  function pickLanguage() {
    var lang = (script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "ru");
    lang = lang.toLowerCase();
    return /^(ru|uk|be|kk|ky|uz|tg)/.test(lang) ? "ru" : /^en/.test(lang) ? "en" : "ru";
  }
  var t = TEXT[pickLanguage()];

  var stored = load();
  var state = {
    token: stored.token || null, profile: stored.profile || null, read: stored.read || 0, unread: 0, settings: null, position: 0,
    messages: {}, order: [], outbox: [], socket: null, ready: false, polling: false, failures: 0,
    everOpened: false, retryTimer: null, pingTimer: null, typingTimer: null, open: false, refused: false
  };

  function load() {
    try { return JSON.parse(localStorage.getItem(storeKey) || "{}") || {}; } catch (e) { return {}; }
  }
  function save() {
    try { localStorage.setItem(storeKey, JSON.stringify({ token: state.token, profile: state.profile, read: state.read })); } catch (e) { /* private mode */ }
  }
  function newId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) {
      if (name === "text") node.textContent = attrs[name];
      else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), attrs[name]);
      else node.setAttribute(name, attrs[name]);
    }
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  /* ---------- view ---------- */
  var host = el("div", { "data-easyflow-widget": key, "data-state": "starting" });
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var style = el("style");
  style.textContent = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}",
    ".launcher{position:fixed;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;cursor:pointer;color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000;display:flex;align-items:center;justify-content:center}",
    ".launcher svg{width:28px;height:28px;fill:currentColor}",
    ".badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;background:#d33;color:#fff;font-size:12px;line-height:20px;padding:0 5px}",
    ".badge[hidden]{display:none}",
    ".panel{position:fixed;bottom:88px;width:360px;max-width:calc(100vw - 24px);height:520px;max-height:calc(100vh - 110px);background:#fff;color:#111;border-radius:14px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;z-index:2147483000}",
    ".panel[hidden]{display:none}",
    ".right{right:20px}.left{left:20px}",
    "header{display:flex;align-items:center;justify-content:space-between;padding:12px 14px;color:#fff}",
    "header h2{margin:0;font-size:16px;font-weight:600}",
    "header button{background:transparent;border:0;color:inherit;font-size:22px;cursor:pointer;line-height:1;padding:2px 6px}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}",
    ".msg{max-width:85%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word;font-size:14px;line-height:1.4}",
    ".author{font-size:12px;font-weight:600;color:#4b5563;margin-bottom:2px}.visitor{align-self:flex-end;color:#fff}.assistant,.operator,.greeting,.draft{align-self:flex-start;background:#fff;border:1px solid #e3e5e8}",
    ".draft{opacity:.8}.pending{opacity:.6}.failed{outline:2px solid #d33}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    ".file{font-style:italic}",
    ".status{font-size:12px;color:#555;padding:0 12px;min-height:18px}",
    ".quick{display:flex;flex-wrap:wrap;gap:6px;padding:6px 12px}",
    ".quick button{border:1px solid currentColor;background:#fff;border-radius:14px;padding:5px 10px;cursor:pointer;font-size:13px}",
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #e3e5e8;align-items:flex-end}",
    "textarea{flex:1;resize:none;border:1px solid #ccd;border-radius:8px;padding:8px;font-size:14px;max-height:100px}",
    "form button,.prechat button{border:0;border-radius:8px;padding:8px 12px;color:#fff;cursor:pointer;font-size:14px}",
    ".attach{background:#eef0f3!important;color:#333!important}",
    ".icon{display:flex;align-items:center;justify-content:center;padding:8px!important}.icon svg{width:20px;height:20px;fill:currentColor}",
    ".prechat{padding:16px;display:flex;flex-direction:column;gap:10px}",
    ".prechat label{display:flex;flex-direction:column;font-size:13px;gap:4px}",
    ".prechat input{border:1px solid #ccd;border-radius:8px;padding:8px;font-size:14px}",
    ".notice{padding:16px;font-size:14px}",
    ":focus-visible{outline:3px solid #f90;outline-offset:2px}"
  ].join("");
  root.appendChild(style);

  var launcher = el("button", { class: "launcher right", type: "button", "aria-label": t.open, "aria-expanded": "false", "aria-controls": "ef-panel", onclick: function () { toggle(); } });
  launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
  var badge = el("span", { class: "badge", "aria-hidden": "true", hidden: "" });
  launcher.appendChild(badge);
  var title = el("h2", { id: "ef-title", text: "" });
  var closeButton = el("button", { type: "button", "aria-label": t.close, text: "×", onclick: function () { toggle(false); } });
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t.log, tabindex: "0" });
  var status = el("div", { class: "status", role: "status", "aria-live": "polite" });
  var quick = el("div", { class: "quick", role: "group" });
  var input = el("textarea", { rows: "1", "aria-label": t.placeholder, placeholder: t.placeholder, maxlength: "4000" });
  var fileInput = el("input", { type: "file", class: "sr", tabindex: "-1", "aria-hidden": "true", accept: "image/*,.pdf,.txt" });
  var attachButton = el("button", { type: "button", class: "attach icon", "aria-label": t.attach, title: t.attach, onclick: function () { fileInput.click(); } });
  attachButton.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z"/></svg>';
  var sendButton = el("button", { type: "submit", class: "icon", "aria-label": t.send, title: t.send });
  sendButton.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M3 20.5 21 12 3 3.5v6.6L15 12 3 13.9z"/></svg>';
  var form = el("form", { onsubmit: function (e) { e.preventDefault(); submit(); } }, [attachButton, fileInput, input, sendButton]);
  var body = el("div", { style: "display:contents" }, [log, status, quick, form]);
  var header = el("header", {}, [title, closeButton]);
  var panel = el("div", { class: "panel right", id: "ef-panel", role: "dialog", "aria-labelledby": "ef-title", hidden: "" }, [header, body]);
  root.appendChild(launcher);
  root.appendChild(panel);

  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); submit(); }
  });
  var typedAt = 0; // staff see the visitor writing: a frame every few seconds is enough
  input.addEventListener("input", function () {
    var socket = state.socket, now = Date.now();
    if (socket && socket.readyState === 1 && now - typedAt > 3000) { typedAt = now; socket.send('{"type":"typing"}'); }
  });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(false); });
  fileInput.addEventListener("change", function () { if (fileInput.files[0]) upload(fileInput.files[0]); fileInput.value = ""; });

  function applySettings(settings) {
    var color = settings.color || "#2563eb";
    var side = settings.position === "left" ? "left" : "right";
    launcher.className = "launcher " + side;
    panel.className = "panel " + side;
    launcher.style.background = color;
    header.style.background = color;
    sendButton.style.background = color;
    quick.style.color = color;
    title.textContent = settings.title;
    var greeting = log.querySelector(".greeting");
    if (!greeting) greeting = log.insertBefore(el("div", { class: "msg greeting" }), log.firstChild);
    greeting.textContent = settings.greeting || t.greeting;
  }

  function markRead() {
    state.read = state.position;
    state.unread = 0;
    save();
    showUnread();
  }

  function showUnread() {
    badge.textContent = String(state.unread);
    badge.hidden = !state.unread;
    var label = state.open ? t.close : t.open;
    launcher.setAttribute("aria-label", state.unread ? label + " (" + state.unread + " " + t.unread + ")" : label);
  }

  function toggle(open) {
    state.open = open === undefined ? !state.open : open;
    panel.hidden = !state.open;
    launcher.setAttribute("aria-expanded", String(state.open));
    if (state.open) markRead(); else showUnread();
    if (state.open) {
      if (needsPrechat()) showPrechat(); else input.focus();
      log.scrollTop = log.scrollHeight;
    } else {
      launcher.focus();
    }
  }

  function needsPrechat() {
    return !!(state.settings && state.settings.prechat_fields.length && !state.profile && !state.order.length);
  }

  function showPrechat() {
    var existing = panel.querySelector(".prechat input");
    if (existing) { existing.focus(); return; }
    var fields = {};
    var inputs = state.settings.prechat_fields.map(function (name) {
      var field = el("input", { name: name, type: name === "phone" ? "tel" : "text", required: "", autocomplete: name === "phone" ? "tel" : "name" });
      field.addEventListener("input", function () { field.setCustomValidity(""); });
      fields[name] = field;
      return el("label", {}, [document.createTextNode(t[name]), field]);
    });
    var startButton = el("button", { type: "submit", text: t.start });
    startButton.style.background = state.settings.color;
    var prechat = el("form", { class: "prechat", "aria-label": t.prechat }, [el("p", { text: t.prechat })].concat(inputs, [startButton]));
    prechat.addEventListener("submit", function (e) {
      e.preventDefault();
      for (var name in fields) {
        if (!fields[name].value.trim()) { fields[name].setCustomValidity(t.required); fields[name].reportValidity(); return; }
      }
      state.profile = { name: fields.name ? fields.name.value.trim() : null, phone: fields.phone ? fields.phone.value.trim() : null };
      save();
      prechat.remove();
      body.style.display = "contents";
      input.focus();
    });
    body.style.display = "none";
    panel.appendChild(prechat);
    inputs[0].querySelector("input").focus();
  }

  function notice(text, stateName) {
    host.setAttribute("data-state", stateName);
    body.style.display = "none";
    var shown = panel.querySelector(".notice");
    if (shown) { shown.textContent = text; return; }
    panel.appendChild(el("p", { class: "notice", role: "alert", text: text }));
  }

  /* ---------- messages ---------- */
  function render(message) {
    var known = state.messages[message.id];
    if (known) return;
    state.messages[message.id] = message;
    state.position = Math.max(state.position, message.position);
    if (message.client_id) {
      var local = log.querySelector('[data-client-id="' + message.client_id + '"]');
      if (local) local.remove();
      state.outbox = state.outbox.filter(function (item) { return item.client_id !== message.client_id; });
    }
    if (message.role !== "visitor") { clearDraft(); showTyping(false); }
    var speaker = message.role === "visitor" ? t.you : message.role === "operator" ? (message.author || t.operator) : t.assistant;
    var bubble = el("div", { class: "msg " + message.role, "data-message-id": message.id, "data-position": String(message.position) }, [
      message.role === "operator" ? el("div", { class: "author", text: speaker }) : el("span", { class: "sr", text: speaker + ": " }),
      document.createTextNode(message.text)
    ]);
    if (message.role === "visitor") bubble.style.background = state.settings ? state.settings.color : "#2563eb";
    message.attachments.forEach(function (file) {
      var label = t.file + ": " + file.name;
      bubble.appendChild(file.id ? el("button", { type: "button", class: "file", text: label, onclick: function () { download(file); } }) : el("div", { class: "file", text: label }));
    });
    var after = null;
    for (var i = 0; i < log.children.length; i++) {
      var p = Number(log.children[i].getAttribute("data-position"));
      if (p && p > message.position) { after = log.children[i]; break; }
    }
    log.insertBefore(bubble, after || draftBubble() || pendingStart());
    state.order.push(message.id);
    if (state.open) markRead();
    else if (message.role !== "visitor" && message.position > state.read) { state.unread += 1; showUnread(); }
    showQuickReplies(message);
    log.scrollTop = log.scrollHeight;
  }
  function draftBubble() { return log.querySelector(".draft"); }
  function pendingStart() { return log.querySelector(".pending"); }

  function showQuickReplies(message) {
    if (message.role === "visitor") { quick.textContent = ""; return; }
    quick.textContent = "";
    message.buttons.forEach(function (label) {
      quick.appendChild(el("button", { type: "button", text: label, onclick: function () { quick.textContent = ""; input.focus(); queue(label); } }));
    });
  }

  function showDraft(text) {
    showTyping(false);
    var bubble = draftBubble();
    if (!bubble) {
      bubble = el("div", { class: "msg draft", "aria-hidden": "true" });
      log.insertBefore(bubble, pendingStart());
    }
    bubble.textContent = text;
    log.scrollTop = log.scrollHeight;
  }
  function clearDraft() { var bubble = draftBubble(); if (bubble) bubble.remove(); }

  function showTyping(on) {
    clearTimeout(state.typingTimer);
    status.textContent = on ? t.typing : (state.ready || state.polling || !state.everOpened ? "" : t.offline);
    if (on) state.typingTimer = setTimeout(function () { showTyping(false); }, 30000);
  }

  /* ---------- sending ---------- */
  function submit() {
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    typedAt = 0; // the next words are news again
    queue(text);
  }

  function queue(text) {
    var frame = { type: "send", text: text, client_id: newId() };
    if (state.profile) { if (state.profile.name) frame.name = state.profile.name; if (state.profile.phone) frame.phone = state.profile.phone; }
    var item = { frame: frame, client_id: frame.client_id, inFlight: false };
    state.outbox.push(item);
    log.appendChild(el("div", { class: "msg visitor pending", "data-client-id": item.client_id, style: "background:" + (state.settings ? state.settings.color : "#2563eb") }, [
      el("span", { class: "sr", text: t.you + " (" + t.sending + "): " }), document.createTextNode(text)
    ]));
    log.scrollTop = log.scrollHeight;
    flushOutbox();
  }

  function flushOutbox() {
    state.outbox.forEach(function (item) {
      if (item.inFlight) return;
      if (state.ready && state.socket) {
        item.inFlight = true;
        state.socket.send(JSON.stringify(item.frame));
      } else if (state.polling) {
        item.inFlight = true;
        var body = {};
        for (var name in item.frame) if (name !== "type") body[name] = item.frame[name];
        request("POST", "/messages", JSON.stringify(body)).then(function (answer) { acked(answer); poll(); }, function (error) {
          item.inFlight = false;
          if (error.status && error.status < 500 && error.status !== 429) markFailed(item, error.detail);
          else setTimeout(flushOutbox, 2000);
        });
      }
    });
  }

  function acked(answer) {
    var local = log.querySelector('[data-client-id="' + answer.client_id + '"]');
    if (local) local.setAttribute("data-message-id", answer.message_id);
    // Every accepted message is answered, so "typing…" shows from here until the reply or its draft (the
    // server's own typing event may come before this page follows the new conversation, and be missed).
    var own = state.messages[answer.message_id];
    var answered = own && state.order.some(function (id) {
      return state.messages[id].role !== "visitor" && state.messages[id].position > own.position;
    });
    if (!answer.duplicate && !answered && !draftBubble()) showTyping(true);
  }

  function markFailed(item, detail) {
    state.outbox = state.outbox.filter(function (other) { return other !== item; });
    var local = log.querySelector('[data-client-id="' + item.client_id + '"]');
    if (!local) return;
    local.classList.add("failed");
    local.classList.remove("pending");
    local.appendChild(el("div", { class: "file", role: "alert", text: t.failed + (detail ? ": " + detail : "") }));
  }

  function upload(file) {
    var clientId = newId();
    var data = new FormData();
    data.append("file", file);
    data.append("client_id", clientId);
    log.appendChild(el("div", { class: "msg visitor pending", "data-client-id": clientId, style: "background:" + (state.settings ? state.settings.color : "#2563eb") }, [el("div", { class: "file", text: t.file + ": " + file.name })]));
    request("POST", "/files", data).then(acked, function (error) {
      markFailed({ client_id: clientId }, error.status === 413 ? t.tooLarge : error.detail);
    });
  }

  // The download needs the visitor's token, which a plain link cannot carry.
  function download(file) {
    fetch(api + "/files/" + file.id, { headers: { Authorization: "Bearer " + state.token }, mode: "cors", credentials: "omit" })
      .then(function (response) { return response.blob(); })
      .then(function (blob) { el("a", { href: URL.createObjectURL(blob), download: file.name }).click(); });
  }

  /* ---------- transport ---------- */
  function request(method, path, payload) {
    var headers = {};
    if (state.token) headers.Authorization = "Bearer " + state.token;
    if (typeof payload === "string") headers["Content-Type"] = "application/json";
    return fetch(api + path, { method: method, headers: headers, body: payload, mode: "cors", credentials: "omit" }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) { var error = new Error(json.detail || response.statusText); error.status = response.status; error.detail = json.detail; throw error; }
        return json;
      });
    });
  }

  function start() {
    var identity = { visitor_token: state.token };
    var userId = script.getAttribute("data-user-id");
    if (userId) { identity.user_id = userId; identity.user_signature = script.getAttribute("data-user-signature") || ""; }
    request("POST", "/session", JSON.stringify(identity)).then(function (session) {
      state.token = session.visitor_token;
      state.settings = session.settings;
      save();
      applySettings(session.settings);
      host.setAttribute("data-state", "connecting");
      connect();
    }, function (error) {
      if (!error.status || error.status >= 500 || error.status === 429) {  // the network or the server: try again
        state.startFailures = (state.startFailures || 0) + 1;
        setTimeout(start, Math.min(30000, 1000 * Math.pow(2, state.startFailures)));
        return;
      }
      state.refused = true;
      applySettings({ title: "", color: "#666", position: "right", prechat_fields: [] });
      notice(error.status === 409 ? t.paused : t.refused, error.status === 409 ? "paused" : "refused");
    });
  }

  function connect() {
    clearTimeout(state.retryTimer);
    if (!("WebSocket" in window) || state.failures >= 3 && !state.everOpened) { startPolling(); return; }
    var socket = new WebSocket(api.replace(/^http/, "ws") + "/live");
    state.socket = socket;
    socket.onopen = function () { socket.send(JSON.stringify({ type: "hello", token: state.token, after: state.position })); };
    socket.onmessage = function (event) {
      if (state.socket !== socket) return;
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      state.lastHeard = Date.now();
      if (frame.type === "ready") {
        state.ready = true; state.everOpened = true; state.failures = 0;
        host.setAttribute("data-state", "online");
        showTyping(false);
        state.outbox.forEach(function (item) { item.inFlight = false; });
        flushOutbox();
        keepAlive();
      } else if (frame.type === "message") render(frame.message);
      else if (frame.type === "ack") acked(frame);
      else if (frame.type === "typing") showTyping(true);
      else if (frame.type === "draft") showDraft(frame.text);
      else if (frame.type === "error") {
        var item = state.outbox.filter(function (other) { return other.client_id === frame.client_id; })[0];
        if (item && frame.status === 429) {  // too fast: the message waits and goes again
          setTimeout(function () { item.inFlight = false; flushOutbox(); }, 1000 * (frame.retry_after || 5));
        } else if (item) markFailed(item, frame.detail);
        if (frame.status === 401) { state.token = null; save(); }
      }
    };
    socket.onclose = function (event) {
      if (state.socket !== socket) return;
      state.socket = null;
      state.ready = false;
      clearInterval(state.pingTimer);
      host.setAttribute("data-state", "reconnecting");
      showTyping(false);
      if (event.code === 4401) { start(); return; }
      if (event.code === 4403 || event.code === 4404) { notice(t.refused, "refused"); return; }
      if (event.code === 4409) { notice(t.paused, "paused"); return; }
      state.failures += 1;
      var delay = Math.min(10000, 500 * Math.pow(2, Math.min(state.failures - 1, 5))) * (0.75 + Math.random() / 2);
      state.retryTimer = setTimeout(connect, delay);
    };
  }

  function keepAlive() {
    clearInterval(state.pingTimer);
    state.pingTimer = setInterval(function () {
      var socket = state.socket;
      if (!socket) return;
      if (Date.now() - state.lastHeard > 45000) { socket.close(); socket.onclose({ code: 1006 }); return; }
      socket.send(JSON.stringify({ type: "ping" }));
    }, 20000);
  }

  function startPolling() {
    state.polling = true;
    host.setAttribute("data-state", "polling");
    flushOutbox();
    poll();
  }

  function poll() {
    if (state.pollInFlight) return;
    state.pollInFlight = true;
    request("GET", "/messages?after=" + state.position + "&wait=25").then(function (answer) {
      state.pollInFlight = false;
      answer.messages.forEach(render);
      if (!answer.messages.length && answer.draft) showDraft(answer.draft);
      else if (!answer.messages.length && answer.typing) showTyping(true);
      var news = answer.messages.length || answer.draft || answer.typing;
      setTimeout(poll, news ? 0 : 1000);
    }, function () {
      state.pollInFlight = false;
      setTimeout(poll, 3000);
    });
  }

  window.addEventListener("online", function () {
    if (!state.socket && !state.polling && state.token && !state.refused) connect();
  });
  window.EasyflowWidget = { open: function () { toggle(true); }, close: function () { toggle(false); } };

  function mount() { document.body.appendChild(host); start(); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
