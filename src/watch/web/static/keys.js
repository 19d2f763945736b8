// Keyboard triage, on top of pages that work without it: j / k move between the rows marked
// data-row, Enter opens the current row's link, x rejects the current piece of evidence after
// asking why (the answer is the note; cancel does nothing).
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-row]"));
  if (!rows.length) { return; }
  var current = -1;
  function select(index) {
    if (current >= 0) { rows[current].classList.remove("current"); }
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows[current].classList.add("current");
    rows[current].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) { return; }
    if (event.key === "j") { select(current + 1); event.preventDefault(); }
    else if (event.key === "k") { select(current - 1); event.preventDefault(); }
    else if (event.key === "Enter" && current >= 0) {
      var link = rows[current].querySelector("a[data-open]");
      if (link) { window.location.href = link.href; event.preventDefault(); }
    } else if (event.key === "x" && current >= 0) {
      var form = rows[current].querySelector("form[data-reject]");
      if (!form) { return; }
      event.preventDefault();
      var note = window.prompt("Reject \u201c" + form.getAttribute("data-title") + "\u201d as a false positive? Why:", "");
      if (note === null || note.trim() === "") { return; }
      form.querySelector("input[name=note]").value = note;
      form.submit();
    }
  });
})();
