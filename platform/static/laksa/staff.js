/* Staff complaint page: the response template picker fills the text box (without scripts an
   empty box with a template chosen sends the template); each form is sent once.
   Staff inbox: a notification about a complaint (the bell's "kotalive:notification" event) reloads
   the list (#inbox-results) in place; while the person is typing in a form, or on a later page,
   a banner offers it instead, so nothing they are doing is taken away. */
(function () {
  "use strict";
  document.querySelectorAll("select[data-fills]").forEach(function (select) {
    select.addEventListener("change", function () {
      var target = document.getElementById(select.getAttribute("data-fills"));
      var option = select.options[select.selectedIndex];
      if (target && option && option.getAttribute("data-body")) {
        target.value = option.getAttribute("data-body");
        target.focus();
      }
    });
  });
  if (window.laksa) {
    document.querySelectorAll(".action-forms form").forEach(function (form) { window.laksa.oncePerSubmit(form, null); });
  }
})();

(function () {
  "use strict";
  var banner = document.getElementById("inbox-live");
  if (!banner || !document.getElementById("inbox-results") || !window.fetch || !window.DOMParser) return;
  var announce = document.getElementById("inbox-announce");
  var first = banner.getAttribute("data-first"); /* set on a later page: new ones are on the first */
  var loading = false;
  var again = false;
  var edited = false; /* a form changed and not sent yet */

  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("input", function () { edited = true; });
    form.addEventListener("change", function () { edited = true; });
    form.addEventListener("submit", function () { edited = false; });
  });

  function typing() {
    var el = document.activeElement;
    var field = el && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName) && el.type !== "submit" && el.type !== "button";
    return edited || Boolean(field) || Boolean(el && el.isContentEditable);
  }

  function complaintIds(root) {
    var ids = {};
    root.querySelectorAll("a.complaint-link").forEach(function (a) { ids[a.getAttribute("href")] = true; });
    return ids;
  }

  function refresh() {
    if (first) { window.location.assign(first); return; }
    if (loading) { again = true; return; }
    loading = true;
    var region = document.getElementById("inbox-results");
    window.fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) {
        if (!answer.ok) throw new Error("inbox answered " + answer.status);
        return answer.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("inbox-results");
        if (!fresh) throw new Error("no list in the answer");
        var known = complaintIds(region);
        var updates = Number(region.getAttribute("data-updates") || "0") + 1;
        fresh = document.importNode(fresh, true);
        fresh.setAttribute("data-updates", String(updates));
        fresh.querySelectorAll("a.complaint-link").forEach(function (a) {
          if (known[a.getAttribute("href")]) return;
          var item = a.closest("li");
          if (!item) return;
          item.classList.add("live-fresh");
          setTimeout(function () { item.classList.remove("live-fresh"); }, 10000);
        });
        region.replaceWith(fresh);
        banner.hidden = true;
        if (announce) announce.textContent = fresh.getAttribute("data-updated-text") || "";
      })
      .catch(function () { banner.hidden = false; })
      .then(function () {
        loading = false;
        if (again) { again = false; refresh(); }
      });
  }

  banner.querySelector("[data-live-reload]").addEventListener("click", function () {
    banner.hidden = true;
    refresh();
  });

  document.addEventListener("kotalive:notification", function (e) {
    var n = (e && e.detail) || {};
    if (typeof n.link !== "string" || !/^\/staff\/laksa(\/|\?|$)/.test(n.link)) return;
    if (first || typing()) { banner.hidden = false; return; }
    refresh();
  });
})();
