// The import form refuses, before sending, files larger together than the import limit or too many of them,
// and says so on the page: the server would refuse them too, but only after the whole upload. Without this
// script the server's answer says the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-import-form]");
  if (!form) return;
  var input = form.querySelector("input[type=file]");
  var problem = form.querySelector("[data-client-problem]");
  form.addEventListener("submit", function (event) {
    var maxBytes = Number(form.dataset.maxBytes);
    var maxFiles = Number(form.dataset.maxFiles);
    var files = Array.prototype.slice.call(input.files || []);
    var total = files.reduce(function (sum, file) { return sum + file.size; }, 0);
    var message = files.length > maxFiles ? problem.dataset.tooMany : total > maxBytes ? problem.dataset.tooLarge : "";
    problem.textContent = message;
    problem.hidden = !message;
    if (message) event.preventDefault();
  });
})();
