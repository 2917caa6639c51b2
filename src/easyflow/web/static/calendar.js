// The bookings calendar.
//
// Live: an `appointment.created`, `.moved` or `.cancelled` staff event (dashboard.js dispatches them as ef:…)
// reads the page again as the server now renders it and puts the columns in place, so another member's
// booking, move or cancellation appears without a reload. While an appointment is being dragged nothing is
// replaced: the refresh waits until the drag, and the move it makes, are over.
//
// Moving (operators): an appointment dragged to another half hour of its member's column (or of another day
// of the week view) is moved there (POST /app/calendar/appointments/{id}/move, asking for JSON); a refused
// move puts it back and shows the refusal's message. Each appointment's page has a "Move" form too, so the
// mouse is never the only way.
(function () {
  "use strict";
  var calendar = document.querySelector("[data-calendar]");
  if (!calendar) return;
  var status = document.getElementById("calendar-status");
  var csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"];
  var busy = false; // a drag or its move is under way
  var pending = false; // a refresh waits for it

  function say(message) {
    status.textContent = message;
    status.hidden = !message;
  }

  function bind() {
    if (!calendar.hasAttribute("data-can-move") || !window.Sortable) return;
    calendar.querySelectorAll("[data-slot]").forEach(function (list) {
      var column = list.closest("[data-staff-id]");
      // The fallback (pointer events rather than the browser's drag and drop) behaves the same with a mouse, a pen and a finger.
      window.Sortable.create(list, {
        group: "staff-" + column.dataset.staffId, // a move keeps the member: only their own column takes it
        animation: 120,
        forceFallback: true,
        filter: "[data-fixed]",
        preventOnFilter: false,
        onStart: function () { busy = true; },
        onEnd: dropped,
      });
    });
  }

  function refresh() {
    if (busy) {
      pending = true;
      return;
    }
    pending = false;
    fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        if (busy) { // a drag began meanwhile: refresh after it
          pending = true;
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-calendar]");
        if (!fresh) return;
        calendar.replaceChildren.apply(calendar, Array.prototype.map.call(
          fresh.children, function (part) { return document.importNode(part, true); }));
        bind();
        calendar.dataset.refreshed = String(Number(calendar.dataset.refreshed || 0) + 1);
      }, function () { /* the next event or a reload shows it */ });
  }

  function settled() {
    busy = false;
    if (pending) refresh();
  }

  function putBack(event) {
    event.from.insertBefore(event.item, event.from.children[event.oldIndex] || null);
  }

  function dropped(event) {
    if (event.from === event.to) {
      settled();
      return;
    }
    var body = new URLSearchParams();
    body.set("start", event.to.dataset.start);
    fetch("/app/calendar/appointments/" + event.item.dataset.appointmentId + "/move", {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      body: body,
      credentials: "same-origin",
    }).then(function (response) {
      if (response.ok) {
        say("");
        pending = true; // its new times as the server now has them
        return;
      }
      return response.json().then(function (refusal) {
        putBack(event);
        say(refusal.message || String(response.status));
      });
    }, function () {
      putBack(event);
      say(calendar.dataset.offline || "Network error");
    }).then(settled, settled);
  }

  ["appointment.created", "appointment.moved", "appointment.cancelled"].forEach(function (kind) {
    document.addEventListener("ef:" + kind, refresh);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", bind);
  else bind();
})();
