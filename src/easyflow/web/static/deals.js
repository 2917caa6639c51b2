// The deals board and a deal's page.
//
// Live: a `deal.created` or `deal.moved` staff event (dashboard.js dispatches them as ef:…) for the board's
// pipeline reads the page again as the server now renders it (with the board's filters) and puts the
// affected columns' heads, cards and "more" links in place. While a card is being dragged nothing is
// replaced: the columns to refresh wait until the drag, and the move it makes, are over. On a deal's page a
// move of that deal puts its stage and history in place.
//
// Moving (operators): a card dragged to another column moves its deal (POST /app/deals/{id}/move, asking for
// JSON). Dropped on a lost stage, a dialog asks why first; a cancelled dialog or a refused move puts the card
// back where it was, and a refusal's message is shown.
(function () {
  "use strict";
  var board = document.querySelector("[data-board]");
  if (!board) return;
  var status = document.getElementById("board-status");
  var dialog = document.getElementById("loss-dialog");
  var csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"];
  var busy = false; // a drag, its dialog or its move is under way
  var waiting = {}; // stage ids to refresh once it is over ("*": every column)

  function freshPage() {
    return fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) { return new DOMParser().parseFromString(html, "text/html"); });
  }

  function refresh(stageIds) {
    stageIds.forEach(function (stageId) { waiting[stageId] = true; });
    if (busy) {
      board.dataset.deferred = "true";
      return;
    }
    var wanted = waiting;
    waiting = {};
    freshPage().then(function (fresh) {
      if (busy) { // a drag began meanwhile: try again after it
        Object.keys(wanted).forEach(function (stageId) { waiting[stageId] = true; });
        board.dataset.deferred = "true";
        return;
      }
      delete board.dataset.deferred;
      board.querySelectorAll("[data-stage-id]").forEach(function (column) {
        if (!wanted["*"] && !wanted[column.dataset.stageId]) return;
        var now = fresh.querySelector('[data-stage-id="' + column.dataset.stageId + '"]');
        if (!now) { // the stage was removed (its deals moved elsewhere)
          column.remove();
          return;
        }
        ["[data-column-head]", "[data-column-more]"].forEach(function (part) {
          var was = column.querySelector(part), is = now.querySelector(part);
          if (was && is) was.replaceWith(document.importNode(is, true));
        });
        // The list itself stays: the drag library is bound to it.
        var cards = column.querySelector("[data-cards]");
        var freshCards = now.querySelector("[data-cards]");
        if (cards && freshCards) cards.replaceChildren.apply(cards, Array.prototype.map.call(
          freshCards.children, function (card) { return document.importNode(card, true); }));
      });
      board.dataset.refreshed = String(Number(board.dataset.refreshed || 0) + 1);
    }, function () { /* the next event or a reload shows it */ });
  }

  function dealChanged(event) {
    var detail = event.detail || {};
    var pipeline = board.dataset.pipelineId;
    if (detail.pipeline_id !== pipeline && detail.from_pipeline_id !== pipeline) return;
    var stages = [detail.from_stage_id, detail.to_stage_id].filter(Boolean);
    refresh(stages.length ? stages : ["*"]);
  }
  document.addEventListener("ef:deal.created", dealChanged);
  document.addEventListener("ef:deal.moved", dealChanged);

  if (!board.hasAttribute("data-can-move") || !window.Sortable) return;

  function settled() {
    busy = false;
    if (Object.keys(waiting).length) refresh([]);
  }

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

  function move(event, lossReason) {
    var from = event.from.closest("[data-stage-id]").dataset.stageId;
    var to = event.to.closest("[data-stage-id]").dataset.stageId;
    var body = new URLSearchParams();
    body.set("stage_id", to);
    if (lossReason) body.set("loss_reason", lossReason);
    return fetch("/app/deals/" + event.item.dataset.dealId + "/move", {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      body: body,
      credentials: "same-origin",
    }).then(function (response) {
      if (response.ok) {
        say("");
        waiting[from] = waiting[to] = true; // the counts and totals as the server now has them
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
    if (event.from === event.to) {
      settled();
      return;
    }
    var column = event.to.closest("[data-stage-id]");
    var moved = column.dataset.stageKind === "lost"
      ? askLossReason().then(function (reason) {
        if (reason === null) putBack(event);
        else return move(event, reason);
      })
      : move(event, null);
    moved.then(settled, settled);
  }

  board.querySelectorAll("[data-cards]").forEach(function (list) {
    // The fallback (pointer events rather than the browser's drag and drop) behaves the same with a mouse, a pen and a finger.
    window.Sortable.create(list, {
      group: "deals",
      animation: 120,
      forceFallback: true,
      onStart: function () { busy = true; },
      onEnd: dropped,
    });
  });
})();

// A deal's page: when the deal moves (here, on the board or by a rule), its stage and history are put in place.
(function () {
  "use strict";
  var state = document.querySelector("[data-deal-page]");
  if (!state) return;
  document.addEventListener("ef:deal.moved", function (event) {
    if (!event.detail || event.detail.deal_id !== state.dataset.dealPage) return;
    fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["[data-deal-page]", "[data-history]"].forEach(function (part) {
          var was = document.querySelector(part), is = fresh.querySelector(part);
          if (was && is) was.replaceWith(document.importNode(is, true));
        });
        state = document.querySelector("[data-deal-page]");
        var choice = document.getElementById("move-stage"), chosen = fresh.getElementById("move-stage");
        if (choice && chosen && document.activeElement !== choice) choice.value = chosen.value;
      }, function () { /* a reload shows it */ });
  });
})();
