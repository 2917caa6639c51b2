// The deals board: a card dragged to another column moves its deal (POST /app/deals/{id}/move, asking for
// JSON). Dropped on a lost stage, a dialog asks why first; a cancelled dialog or a refused move puts the card
// back where it was, and a refusal's message is shown. After a move the columns' counts and totals are read
// again from the page as the server now renders it.
(function () {
  "use strict";
  var board = document.querySelector("[data-board][data-can-move]");
  if (!board || !window.Sortable) return;
  var status = document.getElementById("board-status");
  var dialog = document.getElementById("loss-dialog");
  var csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"];

  function say(message) {
    status.textContent = message;
    status.hidden = !message;
  }

  function putBack(event) {
    event.from.insertBefore(event.item, event.from.children[event.oldIndex] || null);
  }

  function askLossReason() {
    return new Promise(function (resolve) {
      var form = dialog.querySelector("[data-loss-form]");
      var field = dialog.querySelector("textarea");
      var cancel = dialog.querySelector("[data-loss-cancel]");
      field.value = "";
      function done(value) {
        form.removeEventListener("submit", submitted);
        cancel.removeEventListener("click", cancelled);
        dialog.removeEventListener("cancel", cancelled);
        if (dialog.open) dialog.close();
        resolve(value);
      }
      function submitted(event) {
        event.preventDefault();
        if (field.value.trim()) done(field.value.trim());
      }
      function cancelled(event) {
        event.preventDefault();
        done(null);
      }
      form.addEventListener("submit", submitted);
      cancel.addEventListener("click", cancelled);
      dialog.addEventListener("cancel", cancelled);
      dialog.showModal();
      field.focus();
    });
  }

  function refreshHeads() {
    fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        board.querySelectorAll("[data-stage-id]").forEach(function (column) {
          var head = fresh.querySelector('[data-stage-id="' + column.dataset.stageId + '"] [data-column-head]');
          if (head) column.querySelector("[data-column-head]").replaceWith(document.importNode(head, true));
        });
      });
  }

  function move(event, lossReason) {
    var body = new URLSearchParams();
    body.set("stage_id", event.to.closest("[data-stage-id]").dataset.stageId);
    if (lossReason) body.set("loss_reason", lossReason);
    return fetch("/app/deals/" + event.item.dataset.dealId + "/move", {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      body: body,
      credentials: "same-origin",
    }).then(function (response) {
      if (response.ok) {
        say("");
        refreshHeads();
        return;
      }
      return response.json().then(function (refusal) {
        putBack(event);
        say(refusal.message || String(response.status));
      });
    }, function () {
      putBack(event);
      say(board.dataset.offline || "Network error");
    });
  }

  function dropped(event) {
    if (event.from === event.to) return;
    var column = event.to.closest("[data-stage-id]");
    if (column.dataset.stageKind === "lost") {
      askLossReason().then(function (reason) {
        if (reason === null) putBack(event);
        else move(event, reason);
      });
    } else {
      move(event, null);
    }
  }

  board.querySelectorAll("[data-cards]").forEach(function (list) {
    // The fallback (pointer events rather than the browser's drag and drop) behaves the same with a mouse, a pen and a finger.
    window.Sortable.create(list, { group: "deals", animation: 120, forceFallback: true, onEnd: dropped });
  });
})();
