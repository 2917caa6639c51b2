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
