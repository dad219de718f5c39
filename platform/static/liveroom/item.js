/* The item page (/liveroom/item/{id}): fills the classify form's category list from Laksa's public
   categories. The list needs each category's id (the board's classify takes category_id); a
   catalogue without ids leaves the field hidden, and priority and emergency still work. Names go
   in with textContent. */
(function () {
  "use strict";
  var field = document.getElementById("classify-category-field");
  var select = document.getElementById("classify-category");
  var hint = document.getElementById("classify-category-hint");
  if (!field || !select) return;
  var current = field.getAttribute("data-current") || "";
  var en = document.documentElement.lang === "en";
  fetch(field.getAttribute("data-source"), { credentials: "same-origin", headers: { accept: "application/json" } })
    .then(function (r) { return r.ok ? r.json() : []; })
    .then(function (rows) {
      var usable = (Array.isArray(rows) ? rows : []).filter(function (c) { return typeof c.id === "number" && c.active !== false; });
      if (!usable.length) return;
      usable.forEach(function (c) {
        var option = document.createElement("option");
        option.value = String(c.id);
        option.textContent = (en && c.name_en) || c.name || c.code;
        if (String(c.id) === current) option.textContent += " ✓";
        select.appendChild(option);
      });
      if (hint) hint.textContent = "";
      field.hidden = false;
    })
    .catch(function () { /* the field stays hidden */ });
})();
