// todoke console: opens and closes <dialog>s. A file, not inline script: the pages' CSP
// allows scripts from 'self' only. Without JavaScript every link still leads to a page.
(function () {
  "use strict";

  function show(dialog) {
    if (!dialog) { return; }
    if (dialog.open) { dialog.close(); }
    if (typeof dialog.showModal === "function") { dialog.showModal(); }
    else { dialog.setAttribute("open", ""); }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    var opener = target.closest("[data-open-dialog]");
    if (opener) {
      event.preventDefault();
      show(document.getElementById(opener.getAttribute("data-open-dialog")));
      return;
    }
    var closer = target.closest("[data-close-dialog]");
    if (closer) {
      event.preventDefault();
      var dialog = closer.closest("dialog");
      if (dialog) { dialog.close(); }
    }
  });

  // the detail dialog arrives by htmx: open it as a modal once it is in the page
  document.addEventListener("htmx:afterSwap", function (event) {
    var slot = event.detail && event.detail.target;
    if (slot) { show(slot.querySelector("dialog")); }
  });

  // a download form: close its dialog and forget the password once it is sent
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-close-on-submit")) {
      return;
    }
    window.setTimeout(function () {
      var dialog = form.closest("dialog");
      form.querySelectorAll("input[type=password]").forEach(function (input) {
        input.value = "";
      });
      if (dialog) { dialog.close(); }
    }, 0);
  });

  // a dialog the server sent open (a refused download): make it modal
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("dialog[open].modal").forEach(show);
  });
}());
