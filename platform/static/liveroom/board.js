/* The live board (/liveroom): keeps the server's list, the tabs' counts and the map current from
   the board's event stream (/api/v1/liveroom/board/stream), without reloading the page.

   - Each `item` event is an item as the board shows it: its row is inserted in the board's order
     (emergencies first, then priority, newest first), moved, or removed when it no longer
     belongs to this tab and these filters; its marker likewise.
   - The stream starts after the event the page was rendered at (so nothing between the render
     and the connection is lost) and, on a reconnection, after the last event seen; a `reload`
     event (too far behind) refetches the board.
   - `alert: true` (a new emergency): a flashing banner and a short beep (Web Audio API), with a
     mute toggle remembered by this browser.
   Every text from the data goes in with textContent: never innerHTML. */
(function () {
  "use strict";
  var node = document.getElementById("lr-config");
  var list = document.getElementById("lr-list");
  if (!node || !list) return;
  var cfg;
  try { cfg = JSON.parse(node.textContent || "{}"); } catch (e) { return; }
  var T = cfg.texts || {};
  var lang = document.documentElement.lang || "id";
  var VIEWS = {
    action: ["new", "claimed", "escalated"],
    progress: ["forwarded", "acknowledged"],
    open: ["new", "claimed", "routed", "forwarded", "acknowledged", "escalated"]
  };
  var filters = cfg.filters || {};
  var empty = document.getElementById("lr-empty");
  var liveEl = document.getElementById("lr-live");
  var lastSeq = Number(cfg.last_event_id) || 0;
  var versions = {};
  var updates = 0;
  var mayAct = !cfg.wall && list.getAttribute("data-may-act") === "1";
  var latest = {};

  function fmt(text, params) {
    return String(text || "").replace(/\{(\w+)\}/g, function (m, k) {
      return params && Object.prototype.hasOwnProperty.call(params, k) ? String(params[k]) : m;
    });
  }

  function el(tag, attrs, children) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") n.textContent = v;
      else n.setAttribute(k, v === true ? "" : String(v));
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      n.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return n;
  }

  function age(iso) {
    if (!iso) return "";
    var minutes = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000));
    if (minutes < 1) return T["age.now"];
    if (minutes < 60) return fmt(T["age.min"], { n: minutes });
    if (minutes < 1440) return fmt(T["age.hour"], { n: Math.floor(minutes / 60) });
    return fmt(T["age.day"], { n: Math.floor(minutes / 1440) });
  }

  /* Does the item belong on this tab with these filters? (the server's rules, reads.board) */
  function belongs(i) {
    var states = filters.state ? [filters.state] : VIEWS[cfg.view] || VIEWS.open;
    if (states.indexOf(i.state) < 0) return false;
    if (filters.kind && i.kind !== filters.kind) return false;
    if (filters.kecamatan && i.kecamatan_code !== filters.kecamatan) return false;
    if (filters.sla && i.sla !== filters.sla) return false;
    if (filters.agency_id) {
      var a = Number(filters.agency_id);
      if (i.agency_id !== a && (i.forwarded_to || []).indexOf(a) < 0) return false;
    }
    return true;
  }

  function row(i) {
    var title = i.title || fmt(T.no_title, { id: i.id });
    var suffix = lang === "en" ? "?lang=en" : "";
    var names = cfg.names || {};
    var agencies = cfg.agencies || {};
    var meta = [
      el("span", { "class": "badge lr-kind", text: (T.kinds || {})[i.kind] || i.kind }), " ",
      el("span", { "class": "badge lr-state state-" + i.state, text: (T.states || {})[i.state] || i.state })
    ];
    if (i.sla && i.sla !== "ok") meta.push(" ", el("span", { "class": "badge lr-sla sla-" + i.sla, text: (T.slas || {})[i.sla] || i.sla }));
    if (i.kecamatan) meta.push(" ", el("span", { "class": "lr-kecamatan", text: i.kecamatan }));
    if (i.appeared_at) meta.push(" ", el("time", { "class": "lr-age", datetime: i.appeared_at, text: age(i.appeared_at) }));
    if (i.claimed_by) meta.push(" ", el("span", { "class": "lr-claimed", text: fmt(T.claimed_by, { name: names[String(i.claimed_by)] || "#" + i.claimed_by }) }));
    (i.units || []).forEach(function (u) {
      meta.push(" ", el("span", { "class": "badge lr-unit unit-" + u.status, "data-unit": u.call_sign,
        text: u.call_sign + " · " + ((T.units || {})[u.status] || u.status) }));
    });
    if ((i.forwarded_to || []).length) {
      meta.push(" ", el("span", { "class": "lr-forwarded", text: "→ " + i.forwarded_to.map(function (a) { return agencies[String(a)] || "#" + a; }).join(", ") }));
    }
    var line = [];
    if (i.emergency) line.push(el("span", { "class": "badge lr-badge-emergency", text: T.emergency }), " ");
    line.push(mayAct
      ? el("a", { "class": "lr-title", href: "/liveroom/item/" + i.id + suffix, text: title })
      : el("span", { "class": "lr-title", text: title }));
    return el("li", {
      "class": "lr-item card state-" + i.state + (i.emergency ? " lr-emergency" : ""),
      id: "item-" + i.id,
      "data-id": i.id,
      "data-rank": i.rank,
      "data-version": i.version,
      "data-state": i.state
    }, [el("p", { "class": "lr-line" }, line), el("p", { "class": "lr-meta" }, meta)]);
  }

  /* Board order: rank ascending, then id descending. */
  function before(a, rankA, idA) {
    var r = Number(a.getAttribute("data-rank")), id = Number(a.getAttribute("data-id"));
    return rankA < r || (rankA === r && idA > id);
  }

  function place(i) {
    var existing = document.getElementById("item-" + i.id);
    if (existing) existing.remove();
    if (!belongs(i)) { removeMarker(i.id); return; }
    var fresh = row(i);
    if (existing === null) fresh.classList.add("lr-fresh");
    var rows = list.children;
    var at = null;
    for (var n = 0; n < rows.length; n += 1) {
      if (before(rows[n], Number(i.rank), Number(i.id))) { at = rows[n]; break; }
    }
    list.insertBefore(fresh, at);
    while (list.children.length > (cfg.limit || 100)) list.lastElementChild.remove();
    setMarker(i);
  }

  function refreshEmpty() {
    if (empty) empty.hidden = list.children.length > 0;
  }

  function setCounts(counts) {
    document.querySelectorAll("[data-count]").forEach(function (c) {
      var k = c.getAttribute("data-count");
      if (counts && counts[k] !== undefined) c.textContent = String(counts[k]);
    });
  }

  var countTimer = null;
  function refreshCounts() {
    if (countTimer) return;
    countTimer = setTimeout(function () {
      countTimer = null;
      fetch(cfg.board + "?view=" + encodeURIComponent(cfg.view) + "&limit=1", { credentials: "same-origin", headers: { accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (b) { if (b) setCounts(b.counts); })
        .catch(function () { /* the next change tries again */ });
    }, 300);
  }

  /* ---- the map ---- */
  var mapEl = document.getElementById("lr-map");
  var mapStatus = document.getElementById("lr-map-status");
  var map = null, layer = null, markers = {};
  function markerColour(i) { return i.emergency ? "#b42318" : (i.state === "new" ? "#b54708" : "#0b6e4f"); }
  function setMarker(i) {
    if (!map) return;
    removeMarker(i.id);
    if (typeof i.lat !== "number" || typeof i.lon !== "number" || !belongs(i)) return;
    var m = L.circleMarker([i.lat, i.lon], {
      radius: i.emergency ? 11 : 8, color: markerColour(i), fillOpacity: 0.8, className: "lr-marker" + (i.emergency ? " lr-marker-emergency" : "")
    });
    var title = i.title || fmt(T.no_title, { id: i.id });
    var content = el("div", {}, [
      el("p", {}, [mayAct ? el("a", { href: "/liveroom/item/" + i.id, text: "#" + i.id + " " + title }) : el("strong", { text: "#" + i.id + " " + title })]),
      el("p", { "class": "hint", text: ((T.states || {})[i.state] || i.state) + (i.kecamatan ? " · " + i.kecamatan : "") })
    ]);
    m.bindPopup(content);
    layer.addLayer(m);
    markers[i.id] = m;
    countMarkers();
  }
  function removeMarker(id) {
    if (markers[id] && layer) { layer.removeLayer(markers[id]); delete markers[id]; countMarkers(); }
  }
  function countMarkers() {
    var n = Object.keys(markers).length;
    window.liveroomBoard.markers = n;
    if (mapStatus && !mapStatus.dataset.failed) mapStatus.textContent = fmt(T["map.count"], { n: n });
  }

  function startMap(items) {
    if (!mapEl || typeof window.L === "undefined") return;
    L.Icon.Default.imagePath = "/static/vendor/leaflet/images/";
    mapEl.hidden = false;
    map = L.map(mapEl, { scrollWheelZoom: !!cfg.wall });
    var loaded = 0;
    var tiles = L.tileLayer(mapEl.getAttribute("data-tile-url"), { maxZoom: 19, attribution: "&copy; OpenStreetMap" });
    tiles.on("tileload", function () { loaded += 1; });
    tiles.on("tileerror", function () {
      if (!loaded && mapStatus && !mapStatus.dataset.failed) {
        mapStatus.dataset.failed = "1";
        mapStatus.textContent = T["map.tiles_failed"];
        mapEl.classList.add("map-no-tiles");
      }
    });
    tiles.addTo(map);
    layer = L.featureGroup().addTo(map);
    map.setView([-2.5, 118], 5);
    items.forEach(setMarker);
    fit();
    countMarkers();
  }
  function fit() {
    if (map && layer && layer.getLayers().length) map.fitBounds(layer.getBounds(), { maxZoom: 15, padding: [20, 20] });
  }

  /* ---- the alert ---- */
  var alertBox = document.getElementById("lr-alert");
  var alertText = document.getElementById("lr-alert-text");
  var alertLink = document.getElementById("lr-alert-link");
  var soundButton = document.getElementById("lr-sound");
  var muted = false;
  try { muted = window.localStorage.getItem("liveroom.muted") === "1"; } catch (e) { /* private mode */ }
  var audio = null;
  function showSound() {
    if (!soundButton) return;
    soundButton.hidden = false;
    soundButton.textContent = muted ? T["sound.off"] : T["sound.on"];
    soundButton.setAttribute("aria-pressed", muted ? "false" : "true");
  }
  function audioContext() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!audio) { try { audio = new Ctx(); } catch (e) { return null; } }
    if (audio.state === "suspended" && audio.resume) audio.resume();
    return audio;
  }
  function beep() {
    window.liveroomBoard.beeps += 1;
    if (muted) return;
    var ctx = audioContext();
    if (!ctx) return;
    [0, 0.35].forEach(function (offset) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, ctx.currentTime + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, ctx.currentTime + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + offset + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + offset);
      osc.stop(ctx.currentTime + offset + 0.3);
    });
  }
  function raise(i) {
    window.liveroomBoard.alerts += 1;
    if (alertBox) {
      alertText.textContent = "#" + i.id + " " + (i.title || "") + (i.kecamatan ? " · " + i.kecamatan : "");
      alertLink.href = "/liveroom/item/" + i.id + (lang === "en" ? "?lang=en" : "");
      alertLink.hidden = !mayAct;
      alertBox.hidden = false;
      alertBox.classList.remove("lr-flash");
      void alertBox.offsetWidth; /* restart the animation */
      alertBox.classList.add("lr-flash");
    }
    beep();
  }
  if (soundButton) {
    showSound();
    soundButton.addEventListener("click", function () {
      muted = !muted;
      try { window.localStorage.setItem("liveroom.muted", muted ? "1" : "0"); } catch (e) { /* ignore */ }
      if (!muted) audioContext();
      showSound();
    });
  }
  /* Browsers start sound only after a gesture: the first tap anywhere unlocks it. */
  document.addEventListener("pointerdown", function () { if (!muted) audioContext(); }, { once: true });
  var closeButton = document.getElementById("lr-alert-close");
  if (closeButton) closeButton.addEventListener("click", function () { alertBox.hidden = true; alertBox.classList.remove("lr-flash"); });

  /* ---- the stream ---- */
  function apply(i) {
    if (!i || typeof i.id !== "number") return;
    if (i.seq) lastSeq = Math.max(lastSeq, Number(i.seq));
    if (versions[i.id] !== undefined && i.version !== undefined && i.version < versions[i.id]) return;
    if (i.version !== undefined) versions[i.id] = i.version;
    latest[i.id] = i;
    place(i);
    refreshEmpty();
    updates += 1;
    list.setAttribute("data-updates", String(updates));
    if (i.alert && i.emergency) raise(i);
    refreshCounts();
  }

  function reload() {
    var q = Object.keys(filters).map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(filters[k]); });
    q.push("limit=" + (cfg.limit || 100));
    return fetch(cfg.board + "?" + q.join("&"), { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (b) {
        while (list.firstChild) list.firstChild.remove();
        Object.keys(markers).forEach(removeMarker);
        (b.items || []).forEach(function (i) { versions[i.id] = i.version; latest[i.id] = i; place(i); });
        lastSeq = Math.max(lastSeq, Number(b.last_event_id) || 0);
        setCounts(b.counts);
        refreshEmpty();
        window.liveroomBoard.reloads += 1;
        fit();
      });
  }

  var source = null, retry = 1000;
  function status(text, on) {
    if (!liveEl) return;
    liveEl.textContent = text;
    liveEl.classList.toggle("lr-live-on", !!on);
  }
  function connect() {
    if (!window.EventSource) return;
    source = new EventSource(cfg.stream + "?after=" + lastSeq);
    source.addEventListener("open", function () { retry = 1000; status(T["live.on"], true); window.liveroomBoard.connected = true; });
    source.addEventListener("hello", function (e) {
      try { lastSeq = Math.max(lastSeq, Number(JSON.parse(e.data).last_event_id) || 0); } catch (err) { /* ignore */ }
    });
    source.addEventListener("item", function (e) {
      try { apply(JSON.parse(e.data)); } catch (err) { /* a broken frame changes nothing */ }
    });
    source.addEventListener("reload", function () {
      source.close();
      reload().then(function () { status(T["live.reloaded"], true); connect(); }, function () { setTimeout(connect, retry); });
    });
    source.addEventListener("error", function () {
      /* Reconnect ourselves, after the last event seen (the URL's `after` would replay from the
         page's render otherwise). */
      source.close();
      window.liveroomBoard.connected = false;
      status(T["live.off"], false);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  window.liveroomBoard = { markers: 0, alerts: 0, beeps: 0, reloads: 0, connected: false, apply: apply };
  var initial = [];
  Array.prototype.forEach.call(list.children, function (li) {
    versions[Number(li.getAttribute("data-id"))] = Number(li.getAttribute("data-version"));
  });
  /* The map needs the points: the first page, fetched as JSON (the list stays the server's). */
  function firstPoints() {
    if (!mapEl || typeof window.L === "undefined") return;
    var q = Object.keys(filters).map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(filters[k]); });
    q.push("limit=" + (cfg.limit || 100));
    fetch(cfg.board + "?" + q.join("&"), { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (b) {
        initial = b.items || [];
        startMap([]);
        initial.forEach(function (i) { if (markers[i.id] === undefined && document.getElementById("item-" + i.id)) setMarker(latest[i.id] || i); });
        fit();
      })
      .catch(function () { startMap([]); });
  }
  firstPoints();
  connect();
  /* Ages move on by themselves. */
  setInterval(function () {
    list.querySelectorAll("time.lr-age").forEach(function (t) { t.textContent = age(t.getAttribute("datetime")); });
  }, 30000);
})();
