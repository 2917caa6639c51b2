// The inbox pages. A sound and a desktop notification on a new customer message, only when the operator ticked
// "#inbox-notify" (kept in localStorage); the browser is asked for notifications only when they tick it.
(function () {
  "use strict";
  var KEY = "easyflow.inbox.notify";
  var box = document.getElementById("inbox-notify");
  var said = document.getElementById("inbox-notify-status");
  var stored = function () {
    try { return window.localStorage.getItem(KEY) === "1"; } catch (ignored) { return false; }
  };
  if (box) {
    box.checked = stored();
    box.addEventListener("change", function () {
      try { window.localStorage.setItem(KEY, box.checked ? "1" : "0"); } catch (ignored) { /* private mode */ }
      if (box.checked && "Notification" in window && Notification.permission === "default") {
        Notification.requestPermission().then(function (answer) {
          if (answer === "denied" && said) said.textContent = box.getAttribute("data-notify-denied");
        });
      } else if (box.checked && "Notification" in window && Notification.permission === "denied" && said) {
        said.textContent = box.getAttribute("data-notify-denied");
      } else if (said) {
        said.textContent = "";
      }
    });
  }

  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      var audio = new Context();
      var tone = audio.createOscillator();
      var volume = audio.createGain();
      tone.frequency.value = 880;
      volume.gain.value = 0.08;
      tone.connect(volume).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.15);
      tone.onended = function () { audio.close(); };
    } catch (ignored) { /* no sound */ }
  }

  document.addEventListener("ef:message.created", function (event) {
    if (!event.detail || event.detail.role !== "contact" || !stored()) return;
    document.body.dataset.notified = event.detail.conversation_id || "";
    beep();
    if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
      var title = box ? box.getAttribute("data-notify-title") : "easyflow";
      var shown = new Notification(title, { tag: "easyflow-" + event.detail.conversation_id });
      shown.onclick = function () {
        window.focus();
        window.location.href = "/app/conversations/" + encodeURIComponent(event.detail.conversation_id);
      };
    }
  });
})();

// The conversation page's composer: canned responses on "/". Typing "/" and the start of a short code at the
// start of a line lists the matching canned responses (GET /app/inbox/canned?q=, a server-rendered fragment);
// arrow down moves into the list, Enter or a click puts the chosen text in place of "/code", Escape closes it.
(function () {
  "use strict";
  var textarea = document.getElementById("composer-text");
  var list = document.getElementById("canned");
  if (!textarea || !list) return;
  var asked = 0;

  // The "/code" being typed: from a "/" at the start of a line (or after a space) up to the cursor.
  function typedCode() {
    var before = textarea.value.slice(0, textarea.selectionStart);
    var found = /(^|\s)\/([^\s\/]*)$/.exec(before);
    return found ? { code: found[2], start: before.length - found[2].length - 1 } : null;
  }

  function close() {
    asked += 1;
    list.innerHTML = "";
  }

  function choices() {
    return Array.prototype.slice.call(list.querySelectorAll(".canned-choice"));
  }

  function choose(button) {
    var typed = typedCode();
    var text = button.getAttribute("data-canned-text");
    var start = typed ? typed.start : textarea.selectionStart;
    var end = textarea.selectionStart;
    textarea.value = textarea.value.slice(0, start) + text + textarea.value.slice(end);
    close();
    textarea.focus();
    textarea.selectionStart = textarea.selectionEnd = start + text.length;
  }

  textarea.addEventListener("input", function () {
    var typed = typedCode();
    if (!typed) {
      close();
      return;
    }
    var mine = ++asked;
    fetch(textarea.getAttribute("data-canned") + "?q=" + encodeURIComponent(typed.code), {
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.ok ? response.text() : "";
      })
      .then(function (html) {
        if (mine === asked) list.innerHTML = html;
      })
      .catch(function () {
        /* no list: the operator types the answer */
      });
  });

  textarea.addEventListener("keydown", function (event) {
    var shown = choices();
    if (!shown.length) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      shown[0].focus();
    } else if (event.key === "Escape") {
      close();
    }
  });

  list.addEventListener("keydown", function (event) {
    var shown = choices();
    var at = shown.indexOf(document.activeElement);
    if (at < 0) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var next = at + (event.key === "ArrowDown" ? 1 : -1);
      if (next < 0) textarea.focus();
      else shown[Math.min(next, shown.length - 1)].focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
      textarea.focus();
    }
  });

  list.addEventListener("click", function (event) {
    var button = event.target.closest(".canned-choice");
    if (button) choose(button);
  });
})();
