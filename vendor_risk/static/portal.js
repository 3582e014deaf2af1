// Progressive enhancement of the partner portal. Without this file every page still works:
// follow-up questions appear after saving, when the server renders the section again.
//
// - show and hide follow-up questions as answers change (the same rules as the server's
//   `show_if`: equals, in, all, any, not; a hidden or N/A answer matches nothing);
// - "not applicable" disables the question's other inputs;
// - warn before leaving a section with unsaved changes.
(function () {
  "use strict";

  var form = document.querySelector("form.section-form");
  if (!form) {
    return;
  }
  var questions = Array.prototype.slice.call(form.querySelectorAll(".question[data-qid]"));
  var knownNode = document.getElementById("known-answers");
  // Answers of questions in other sections that conditions here may refer to.
  var known = knownNode ? JSON.parse(knownNode.textContent || "{}") : {};

  function inputsOf(question) {
    return Array.prototype.slice.call(question.querySelectorAll("[data-value-input]"));
  }

  function isNa(question) {
    var na = question.querySelector("[data-na]");
    return Boolean(na && na.checked);
  }

  // The answer of a question on this page, shaped like the server's: a string, a number,
  // a list of strings, or null when blank or N/A.
  function currentValue(question) {
    if (isNa(question)) {
      return null;
    }
    var type = question.getAttribute("data-type");
    var inputs = inputsOf(question);
    if (type === "multi_choice") {
      var chosen = inputs.filter(function (i) { return i.checked; }).map(function (i) { return i.value; });
      return chosen.length ? chosen : null;
    }
    if (type === "yes_no" || type === "single_choice") {
      var picked = inputs.filter(function (i) { return i.checked; })[0];
      return picked ? picked.value : null;
    }
    var text = inputs.length ? inputs[0].value.trim() : "";
    if (!text) {
      return null;
    }
    if (type === "number") {
      // As the server reads it: commas grouping thousands are dropped, a lone one is a decimal comma.
      var grouped = /^-?\d{1,3}(,\d{3})+(\.\d+)?$/.test(text);
      var number = Number(grouped ? text.replace(/,/g, "") : text.replace(",", "."));
      return isNaN(number) ? null : number;
    }
    return text;
  }

  function same(have, want) {
    // A text never equals a number, even "1" and 1.
    if (typeof have !== typeof want) {
      return false;
    }
    return have === want;
  }

  function evaluate(condition, answers) {
    if (condition.all != null) {
      return condition.all.every(function (c) { return evaluate(c, answers); });
    }
    if (condition.any != null) {
      return condition.any.some(function (c) { return evaluate(c, answers); });
    }
    if (condition.not != null) {
      return !evaluate(condition.not, answers);
    }
    var value = answers[condition.question];
    if (value == null) {
      return false;
    }
    var wanted = condition.equals != null ? [condition.equals] : condition["in"] || [];
    var given = Array.isArray(value) ? value : [value];
    return given.some(function (have) {
      return wanted.some(function (want) { return same(have, want); });
    });
  }

  function refresh() {
    var answers = {};
    Object.keys(known).forEach(function (key) { answers[key] = known[key]; });
    questions.forEach(function (question) {
      var id = question.getAttribute("data-qid");
      var rule = question.getAttribute("data-show-if");
      var visible = !rule || evaluate(JSON.parse(rule), answers);
      question.hidden = !visible;
      // Only shown questions count for the conditions after them, as on the server.
      answers[id] = visible ? currentValue(question) : null;
      var na = isNa(question);
      inputsOf(question).forEach(function (input) { input.disabled = na; });
    });
  }

  var dirty = false;
  form.addEventListener("change", function () { dirty = true; refresh(); });
  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("submit", function () { dirty = false; });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
  refresh();
})();
