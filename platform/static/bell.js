/* The bell: the unread count and new notifications, live over server-sent events (the server
   sends the count first, then each new notification). EventSource reconnects by itself; each
   (re)connection starts with the current count, so nothing missed while away stays hidden. */
(function () {
  "use strict";
  var bell = document.querySelector(".bell[data-stream]");
  if (!bell || !window.EventSource) return;
  var count = bell.querySelector(".bell-count");
  var toasts = document.querySelector(".toasts");
  var label = bell.getAttribute("data-label") || "";
  var unread = 0;

  function show(n) {
    unread = Math.max(0, n);
    count.textContent = unread > 99 ? "99+" : String(unread);
    count.hidden = unread === 0;
    bell.setAttribute("aria-label", unread ? label + " (" + unread + ")" : label);
    bell.classList.toggle("ringing", unread > 0);
  }

  function toast(n) {
    if (!toasts) return;
    var box = document.createElement("div");
    box.className = "toast" + (n.urgent ? " urgent" : "");
    box.setAttribute("role", n.urgent ? "alert" : "status");
    var title = document.createElement(n.link ? "a" : "strong");
    title.textContent = n.title; /* text only: never innerHTML */
    if (n.link) title.href = n.link;
    var body = document.createElement("p");
    body.textContent = n.body;
    box.appendChild(title);
    box.appendChild(body);
    toasts.appendChild(box);
    setTimeout(function () { box.remove(); }, n.urgent ? 30000 : 8000);
  }

  var source = new EventSource(bell.getAttribute("data-stream"));
  source.addEventListener("unread", function (e) {
    try { show(JSON.parse(e.data).unread); } catch (err) { /* ignore a broken frame */ }
  });
  source.addEventListener("notification", function (e) {
    try {
      var n = JSON.parse(e.data);
      show(unread + 1);
      toast(n);
      document.dispatchEvent(new CustomEvent("kotalive:notification", { detail: n }));
    } catch (err) { /* ignore a broken frame */ }
  });
})();

/* The notification settings form (/notifikasi/pengaturan): choosing "on/off for every message" for
   a channel ticks that channel's boxes to match, and "per kind of message" puts each box back to
   the person's own choice or the message's default, so the page shows what will happen. Without
   this script the server still applies the choice to every box left as it was. */
(function () {
  "use strict";
  var form = document.querySelector("form.prefs");
  if (!form) return;
  form.querySelectorAll("select[name^='all.']").forEach(function (select) {
    var channel = select.name.slice(4);
    select.addEventListener("change", function () {
      form.querySelectorAll("input[type=checkbox][data-channel='" + channel + "']").forEach(function (box) {
        if (select.value === "on") box.checked = true;
        else if (select.value === "off") box.checked = false;
        else if (box.hasAttribute("data-own")) box.checked = box.getAttribute("data-own") === "1";
        else box.checked = box.getAttribute("data-default") === "1";
      });
    });
  });
})();
