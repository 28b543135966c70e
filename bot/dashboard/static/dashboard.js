// banzhuren dashboard: the only script. Filters submit on change; tables sort by a header
// click without a round trip (the header links still sort on the server without script).
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // On a phone the navigation collapses behind the 菜单 button.
  var toggle = document.querySelector(".menu-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var header = toggle.closest("header");
      var open = header.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Issue 24: each cell carries its column's header (data-label), which the phone layout
  // shows beside the value when a row becomes a card. Header cells spanning columns count.
  document.querySelectorAll("table.data").forEach(function (table) {
    if (!table.tHead || !table.tHead.rows.length) return;
    var labels = [];
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      var text = th.textContent.replace(/ [▲▼]$/, "").trim();
      for (var i = 0; i < (th.colSpan || 1); i++) labels.push(text);
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        if (row.cells.length === 1 && row.cells[0].colSpan > 1) return;  // "no rows" line
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (td) {
          if (!td.hasAttribute("data-label")) td.setAttribute("data-label", labels[column] || "");
          column += td.colSpan || 1;
        });
      });
    });
  });

  function cellValue(row, index) {
    var cell = row.cells[index];
    if (cell && cell.hasAttribute("data-value")) {
      var v = parseFloat(cell.getAttribute("data-value"));
      return isNaN(v) ? -1 : v;
    }
    var text = cell ? cell.textContent.trim() : "";
    var number = parseFloat(text.replace(/[%,]/g, ""));
    return isNaN(number) || !/^[\d.\-]/.test(text) ? text : number;
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, index) {
      th.addEventListener("click", function (event) {
        event.preventDefault();
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var descending = th.getAttribute("aria-sort") === "ascending";
        Array.prototype.forEach.call(headers, function (h) {
          h.removeAttribute("aria-sort");
          var link = h.querySelector("a") || h;
          if (link.children.length === 0) link.textContent = link.textContent.replace(/ [▲▼]$/, "");
        });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var target = th.querySelector("a") || th;
        if (target.children.length === 0) target.textContent += descending ? " ▼" : " ▲";
        rows.sort(function (a, b) {
          var x = cellValue(a, index), y = cellValue(b, index);
          var order = typeof x === "number" && typeof y === "number"
            ? x - y : String(x).localeCompare(String(y), "zh-CN");
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
