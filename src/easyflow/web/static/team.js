// The team pages: a button that copies a secret shown once (an invitation link, a new API key) to the clipboard.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    var done = function () {
      button.textContent = button.getAttribute("data-copied");
    };
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        /* the field stays selected for copying by hand */
      });
    } else if (document.execCommand && document.execCommand("copy")) {
      done();
    }
  });
})();
