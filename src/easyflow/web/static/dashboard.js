// What every signed-in page shares. Live events: one EventSource per tab on the staff event stream; each
// event is dispatched on `document` as `ef:<kind>` (detail: the event's data), so a page part refreshes itself
// with hx-trigger="ef:message.created from:document" or an Alpine @ef:….window listener. The browser
// reconnects by itself with Last-Event-ID; a `resync` event (what was missed is no longer kept) reloads.
(function () {
  "use strict";
  var url = document.body.dataset.liveEvents;
  if (!url || !window.EventSource) return;
  var kinds = [
    "message.created", "conversation.updated", "presence.updated", "typing", "sla.breached", "mention",
    "deal.created", "deal.moved",
  ];
  var source = new EventSource(url);
  kinds.forEach(function (kind) {
    source.addEventListener(kind, function (event) {
      var detail = {};
      try { detail = JSON.parse(event.data); } catch (ignored) { return; }
      document.dispatchEvent(new CustomEvent("ef:" + kind, { detail: detail }));
    });
  });
  source.addEventListener("resync", function () { window.location.reload(); });
  // Leaving the page (signing out included) must not leave a reconnecting stream behind.
  window.addEventListener("pagehide", function () { source.close(); });
  source.addEventListener("open", function () { document.body.dataset.live = "connected"; });
  source.addEventListener("error", function () { document.body.dataset.live = "reconnecting"; });
})();
