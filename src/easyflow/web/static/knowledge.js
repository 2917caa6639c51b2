// Drag-and-drop upload on the knowledge page: files dropped on the upload form fill its file input and the
// form is sent as if chosen by hand. Without this script the plain form works the same way.
(function () {
  "use strict";
  var form = document.querySelector("form[data-dropzone]");
  if (!form) return;
  var input = form.querySelector("input[type=file]");
  function over(event) {
    event.preventDefault();
    form.classList.add("dropzone-over");
  }
  function leave() { form.classList.remove("dropzone-over"); }
  form.addEventListener("dragenter", over);
  form.addEventListener("dragover", over);
  form.addEventListener("dragleave", leave);
  form.addEventListener("drop", function (event) {
    event.preventDefault();
    leave();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (!files || !files.length) return;
    input.files = files;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  });
})();
