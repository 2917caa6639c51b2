// The Channels pages: copy the widget's snippet, and keep the widget preview in step with its form.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentElement.querySelector("[data-copy-status]");
    if (!source) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () { if (status) status.textContent = button.getAttribute("data-copied-text"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.value).then(done, function () { source.select(); });
      } else {
        source.select();
        try { if (document.execCommand("copy")) done(); } catch (ignored) { /* selected: the member copies it */ }
      }
    });
  });

  var preview = document.querySelector("[data-widget-preview]");
  var form = document.querySelector("[data-widget-form]");
  if (!preview || !form) return;
  var title = form.querySelector("[data-preview-title]");
  var greeting = form.querySelector("[data-preview-greeting]");
  var color = form.querySelector("[data-preview-color]");
  var position = form.querySelector("select[name=position]");
  var titleOut = preview.querySelector("[data-preview-title-out]");
  var greetingOut = preview.querySelector("[data-preview-greeting-out]");
  var fallbackTitle = titleOut.textContent;
  function update() {
    titleOut.textContent = title.value.trim() || fallbackTitle;
    greetingOut.textContent = greeting.value.trim() || greetingOut.getAttribute("data-default");
    if (/^#[0-9a-fA-F]{6}$/.test(color.value)) preview.style.setProperty("--widget-accent", color.value);
    preview.classList.toggle("left", position.value === "left");
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
})();
