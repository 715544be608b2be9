// Client-side table filters for the compliance report: a search box per table, a filter per column
// (a drop-down where a column has few distinct values), and "#q=TEXT" in the URL pre-fills every search box.
// No network, no libraries.
(function () {
  "use strict";
  function cellText(row, i) {
    var c = row.cells[i];
    return c ? c.textContent.toLowerCase() : "";
  }
  function setup(table) {
    var thead = table.tHead, body = table.tBodies[0];
    if (!thead || !body) { return; }
    var rows = Array.prototype.slice.call(body.rows);
    var head = thead.rows[0], ncol = head.cells.length;
    var filterRow = thead.insertRow(-1);
    filterRow.className = "filters";
    var controls = [];
    for (var i = 0; i < ncol; i++) {
      var th = document.createElement("th");
      var values = {}, distinct = 0, longest = 0;
      rows.forEach(function (r) {
        var t = r.cells[i] ? r.cells[i].textContent.trim() : "";
        longest = Math.max(longest, t.length);
        if (!Object.prototype.hasOwnProperty.call(values, t)) { values[t] = true; distinct += 1; }
      });
      var ctl;
      // a drop-down for short categorical columns (action, user, outcome); free text elsewhere
      if (distinct > 1 && distinct <= 25 && rows.length > distinct && longest <= 40) {
        ctl = document.createElement("select");
        var all = document.createElement("option");
        all.value = ""; all.textContent = "(all)";
        ctl.appendChild(all);
        Object.keys(values).sort().forEach(function (v) {
          var o = document.createElement("option");
          o.value = v.toLowerCase(); o.textContent = v === "" ? "(empty)" : v;
          ctl.appendChild(o);
        });
        ctl.dataset.exact = "1";
      } else {
        ctl = document.createElement("input");
        ctl.type = "search"; ctl.placeholder = "filter";
      }
      ctl.setAttribute("aria-label", "filter " + head.cells[i].textContent);
      th.appendChild(ctl);
      filterRow.appendChild(th);
      controls.push(ctl);
    }
    var bar = document.createElement("div");
    bar.className = "tablebar";
    var search = document.createElement("input");
    search.type = "search"; search.placeholder = "search this table";
    search.className = "tablesearch";
    var count = document.createElement("span");
    bar.appendChild(search); bar.appendChild(count);
    var anchor = table.parentNode.classList.contains("tablewrap") ? table.parentNode : table;
    anchor.parentNode.insertBefore(bar, anchor);
    function apply() {
      var q = search.value.trim().toLowerCase(), shown = 0;
      rows.forEach(function (r) {
        var ok = !q || r.textContent.toLowerCase().indexOf(q) >= 0;
        for (var j = 0; ok && j < controls.length; j++) {
          var v = controls[j].value.trim().toLowerCase();
          if (!v) { continue; }
          var t = cellText(r, j).trim();
          ok = controls[j].dataset.exact ? t === v : t.indexOf(v) >= 0;
        }
        r.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = shown + " of " + rows.length + " rows";
    }
    controls.forEach(function (c) { c.addEventListener("input", apply); c.addEventListener("change", apply); });
    search.addEventListener("input", apply);
    table._applyFilter = function (q) { search.value = q; apply(); };
    apply();
  }
  function init() {
    var tables = document.querySelectorAll("table.filterable");
    Array.prototype.forEach.call(tables, setup);
    var m = /(?:^#|&)q=([^&]*)/.exec(window.location.hash || "");
    if (m) {
      var q = decodeURIComponent(m[1]);
      Array.prototype.forEach.call(tables, function (t) { if (t._applyFilter) { t._applyFilter(q); } });
    }
    document.body.setAttribute("data-ready", String(tables.length));
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
