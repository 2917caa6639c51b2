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
    "deal.created", "deal.moved", "crm.task_due", "crm.notice",
    "appointment.created", "appointment.moved", "appointment.cancelled",
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

// The member's own due tasks (`crm.task_due` for them) and the funnel's notices (`crm.notice` for them or for
// everyone) as toasts in the page's status region, each with a link to the deal (or the tasks page, or the
// contact) and a button to dismiss it; and as a desktop notification when the member ticked the inbox's
// "sound and desktop notification" (the same choice in this browser) and the browser allows them. The
// notification's tag is the task or the event, so several open tabs show it once.
(function () {
  "use strict";
  var region = document.querySelector("[data-toasts]");
  var me = document.body.dataset.userId;
  if (!region || !me) return;
  var NOTIFY_KEY = "easyflow.inbox.notify"; // static/inbox.js
  var MOST = 5;

  function optedIn() {
    try { return window.localStorage.getItem(NOTIFY_KEY) === "1"; } catch (ignored) { return false; }
  }

  function link(detail, isTask) {
    if (detail.deal_id) return { href: "/app/deals/" + encodeURIComponent(detail.deal_id), text: region.dataset.openDeal };
    if (isTask) return { href: "/app/tasks", text: region.dataset.openTasks };
    if (detail.contact_id) return { href: "/app/contacts/" + encodeURIComponent(detail.contact_id), text: region.dataset.openContact };
    return null;
  }

  function show(kind, label, text, target, tag) {
    var toast = document.createElement("div");
    toast.className = "toast";
    toast.dataset.toast = kind;
    var said = document.createElement("p");
    var strong = document.createElement("strong");
    strong.textContent = label;
    said.append(strong, ": ", text);
    var actions = document.createElement("p");
    actions.className = "toast-actions";
    if (target) {
      var anchor = document.createElement("a");
      anchor.href = target.href;
      anchor.textContent = target.text;
      actions.append(anchor);
    }
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "link";
    dismiss.textContent = region.dataset.dismiss;
    dismiss.addEventListener("click", function () { toast.remove(); });
    actions.append(dismiss);
    toast.append(said, actions);
    region.append(toast);
    while (region.children.length > MOST) region.firstElementChild.remove();
    if (optedIn() && "Notification" in window && Notification.permission === "granted") {
      var shown = new Notification(label, { body: text, tag: tag });
      shown.onclick = function () {
        window.focus();
        if (target) window.location.href = target.href;
      };
    }
  }

  document.addEventListener("ef:crm.task_due", function (event) {
    var detail = event.detail || {};
    if (detail.user_id !== me) return;
    show("task", region.dataset.taskDue, detail.title || "", link(detail, true), "easyflow-task-" + detail.task_id);
  });
  document.addEventListener("ef:crm.notice", function (event) {
    var detail = event.detail || {};
    if (detail.user_id && detail.user_id !== me) return;
    show("notice", region.dataset.notice, detail.text || "", link(detail, false), "easyflow-notice-" + detail.id);
  });
})();
