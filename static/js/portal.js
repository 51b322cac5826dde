// The portal's few behaviours that are not htmx: dialogs and the builder's condition rows.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (dialog && !dialog.open) dialog.showModal();
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) open.close();
    }
    var add = event.target.closest("[data-add-condition]");
    if (add) {
      var list = document.getElementById("condition-rows");
      var template = document.getElementById("condition-row-template");
      var next = parseInt(list.getAttribute("data-next-index") || "0", 10);
      var html = template.innerHTML.replace(/__INDEX__/g, String(next)).replace(/__NUMBER__/g, String(list.querySelectorAll(".condition-row").length + 1));
      list.setAttribute("data-next-index", String(next + 1));
      list.insertAdjacentHTML("beforeend", html);
      var empty = document.getElementById("conditions-empty");
      if (empty) empty.hidden = true;
      var rows = list.querySelectorAll(".condition-row");
      var first = rows[rows.length - 1].querySelector("input, select");
      if (first) first.focus();
      list.dispatchEvent(new Event("input", { bubbles: true }));
    }
    var remove = event.target.closest("[data-remove-condition]");
    if (remove) {
      var row = remove.closest(".condition-row");
      var rowsList = document.getElementById("condition-rows");
      row.remove();
      if (!rowsList.querySelector(".condition-row")) {
        var emptyNote = document.getElementById("conditions-empty");
        if (emptyNote) emptyNote.hidden = false;
      }
      rowsList.dispatchEvent(new Event("input", { bubbles: true }));
      var addButton = document.querySelector("[data-add-condition]");
      if (addButton) addButton.focus();
    }
  });

  // Fields shown only for some choices: data-show-when="input_name=value|other".
  function valueOf(form, name) {
    var input = form.elements[name];
    if (!input) return "";
    if (input.type === "checkbox") return input.checked ? "on" : "";
    return input.value;
  }
  function syncConditional(form) {
    form.querySelectorAll("[data-show-when]").forEach(function (element) {
      var rule = element.getAttribute("data-show-when");
      var split = rule.indexOf("=");
      var wanted = rule.slice(split + 1).split("|");
      element.hidden = wanted.indexOf(valueOf(form, rule.slice(0, split))) < 0;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.form) syncConditional(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form").forEach(syncConditional);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  });

  // A 400 fragment says what was refused (a sample context, a condition): show it, as for a 200.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // <select> or <input data-submit-on-change> submits its form (the tenant switch, the dashboard's period);
  // no inline handlers under the CSP.
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-submit-on-change]") && event.target.form) event.target.form.requestSubmit();
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
