/* 112 call-taker: the screen (/112) and the incident page's map (/112/insiden/{id}).
   The server renders everything; this keeps the call list, the chosen call and its location
   current from the calls stream (SSE), draws the caller's location with its accuracy circle, lets
   a click on the map fill the coordinates, and shows only the chosen type's protocol questions.
   Text only via textContent. */
(function () {
  "use strict";

  function config(node) {
    try { return JSON.parse(node.getAttribute("data-config") || "{}"); } catch (e) { return {}; }
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function clock(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleTimeString("id-ID", { hour12: false });
  }

  function moment(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleString("id-ID", { hour12: false });
  }

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (_, k) {
      return values[k] === undefined ? "" : String(values[k]);
    });
  }

  // ---- the map -----------------------------------------------------------------------------------

  function LocationMap(root) {
    this.root = root;
    this.mapEl = document.getElementById("h112-map");
    this.text = document.getElementById("h112-location-text");
    this.map = null;
    this.marker = null;
    this.circle = null;
  }

  LocationMap.prototype.start = function (onClick) {
    if (!this.mapEl || !window.L) return;
    var self = this;
    this.map = L.map(this.mapEl, { scrollWheelZoom: false });
    var tiles = L.tileLayer(this.root.getAttribute("data-tiles"), { maxZoom: 19, attribution: "© OpenStreetMap" });
    tiles.on("tileerror", function () {
      var note = document.getElementById("h112-map-failed");
      if (note) note.hidden = false;
    });
    tiles.addTo(this.map);
    this.map.setView([-6.2, 106.8], 11);
    if (this.text && this.text.hasAttribute("data-lat")) {
      var acc = this.text.getAttribute("data-accuracy");
      this.show(Number(this.text.getAttribute("data-lat")), Number(this.text.getAttribute("data-lon")), acc === "" ? null : Number(acc));
    }
    if (onClick) this.map.on("click", function (ev) { onClick(ev.latlng.lat, ev.latlng.lng); });
  };

  LocationMap.prototype.show = function (lat, lon, accuracy) {
    if (!this.map) return;
    if (this.marker) this.marker.remove();
    if (this.circle) this.circle.remove();
    this.marker = L.circleMarker([lat, lon], { radius: 7, color: "#cf222e", fillOpacity: 0.9 }).addTo(this.map);
    if (accuracy !== null && accuracy !== undefined && isFinite(accuracy)) {
      this.circle = L.circle([lat, lon], { radius: accuracy, color: "#cf222e", weight: 1, fillOpacity: 0.12 }).addTo(this.map);
      this.map.fitBounds(this.circle.getBounds(), { maxZoom: 17 });
    } else {
      this.map.setView([lat, lon], 16);
    }
  };

  // ---- the call-taker screen ---------------------------------------------------------------------

  function Screen(root) {
    this.root = root;
    var cfg = config(root);
    this.t = cfg.texts || {};
    this.lang = cfg.lang || "id";
    this.list = document.getElementById("h112-calls");
    this.empty = document.getElementById("h112-empty");
    this.live = document.getElementById("h112-live");
    this.callId = root.getAttribute("data-call-id");
    // The chosen call stays in the list even when it is no longer live (opened by its link).
    this.selectedItem = this.callId && this.list ? this.list.querySelector('[data-call-id="' + this.callId + '"]') : null;
    this.map = new LocationMap(root);
  }

  Screen.prototype.link = function (id) {
    return "/112?panggilan=" + id + (this.lang === "en" ? "&lang=en" : "");
  };

  Screen.prototype.item = function (c) {
    var li = el("li", "h112-call" + (c.ringing ? " is-ringing" : "") + (String(c.id) === this.callId ? " is-selected" : ""));
    li.setAttribute("data-call-id", c.id);
    li.setAttribute("data-stage", c.stage);
    var a = el("a");
    a.href = this.link(c.id);
    a.appendChild(el("span", "h112-number", c.caller_number || this.t["calls.withheld"]));
    a.appendChild(el("span", "badge h112-stage stage-" + c.stage, this.t["calls.stage." + c.stage] || c.stage));
    var meta = (c.line || "") + " · " + clock(c.offered_at);
    if (c.disposition) meta += " · " + (this.t["disposition." + c.disposition] || c.disposition);
    if (c.history && c.history.earlier_calls) meta += " · " + fill(this.t["calls.history.count"], { n: c.history.earlier_calls });
    a.appendChild(el("span", "h112-meta", meta));
    li.appendChild(a);
    return li;
  };

  Screen.prototype.upsert = function (c) {
    if (!this.list) return;
    var old = this.list.querySelector('[data-call-id="' + c.id + '"]');
    var fresh = this.item(c);
    var gone = c.disposition && c.stage === "ended";
    if (old && gone) { old.remove(); }
    else if (old) { this.list.replaceChild(fresh, old); }
    else if (!gone) {
      this.list.insertBefore(fresh, this.list.firstChild);
      if (c.ringing) this.ring();
    }
    if (this.empty) this.empty.hidden = this.list.children.length > 0;
    if (String(c.id) === this.callId) this.updateSelected(c);
  };

  Screen.prototype.replaceAll = function (calls) {
    if (!this.list) return;
    while (this.list.firstChild) this.list.removeChild(this.list.firstChild);
    var seen = false;
    for (var i = 0; i < calls.length; i++) {
      this.list.appendChild(this.item(calls[i]));
      if (String(calls[i].id) === this.callId) seen = true;
    }
    if (!seen && this.selectedItem) this.list.insertBefore(this.selectedItem, this.list.firstChild);
    if (this.empty) this.empty.hidden = calls.length > 0;
  };

  Screen.prototype.updateSelected = function (c) {
    var stage = document.getElementById("h112-call-stage");
    if (stage) {
      stage.textContent = this.t["calls.stage." + c.stage] || c.stage;
      stage.className = "badge h112-stage stage-" + c.stage;
    }
    var answered = document.getElementById("h112-call-answered");
    if (answered && c.answered_at) answered.textContent = moment(c.answered_at);
    var ended = document.getElementById("h112-call-ended");
    if (ended && c.ended_at) ended.textContent = moment(c.ended_at);
  };

  Screen.prototype.location = function (loc) {
    if (String(loc.call_id) !== this.callId) return;
    var text = document.getElementById("h112-location-text");
    if (text) {
      var words = loc.lat.toFixed(6) + ", " + loc.lon.toFixed(6);
      if (loc.accuracy_m !== null && loc.accuracy_m !== undefined) words += " · " + fill(this.t["calls.location.accuracy"], { m: Math.round(loc.accuracy_m) });
      words += " · " + loc.source + " (" + loc.channel + ")";
      text.textContent = words;
    }
    var lat = document.getElementById("f-lat"), lon = document.getElementById("f-lon"), acc = document.getElementById("f-accuracy");
    if (lat && !lat.value) lat.value = loc.lat;
    if (lon && !lon.value) lon.value = loc.lon;
    if (acc && !acc.value && loc.accuracy_m !== null && loc.accuracy_m !== undefined) acc.value = loc.accuracy_m;
    var source = document.getElementById("f-source");
    if (source && loc.channel !== "calltaker") source.value = "aml";
    this.map.show(loc.lat, loc.lon, loc.accuracy_m);
  };

  Screen.prototype.refreshSelected = function () {
    if (!this.callId || !window.fetch) return;
    var self = this;
    fetch("/api/v1/hotline112/calls/" + this.callId, { headers: { accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (detail) {
        if (!detail) return;
        self.updateSelected(detail.call);
        if (detail.location) self.location(detail.location);
      })
      .catch(function () { /* the stream brings what follows */ });
  };

  Screen.prototype.ring = function () {
    var title = document.title;
    document.title = "☎ " + title;
    setTimeout(function () { document.title = title; }, 4000);
  };

  Screen.prototype.connect = function () {
    if (!window.EventSource) return;
    var self = this;
    var source = new EventSource(this.root.getAttribute("data-stream"));
    source.addEventListener("open", function () { if (self.live) self.live.textContent = self.t["calls.live.on"]; });
    source.addEventListener("error", function () { if (self.live) self.live.textContent = self.t["calls.live.off"]; });
    source.addEventListener("calls", function (ev) {
      try { self.replaceAll(JSON.parse(ev.data).calls || []); } catch (e) { /* a bad message is skipped */ }
      self.refreshSelected();  // (re)connected: what happened to the chosen call meanwhile
    });
    source.addEventListener("call", function (ev) {
      try { self.upsert(JSON.parse(ev.data)); } catch (e) { /* skipped */ }
    });
    source.addEventListener("location", function (ev) {
      try { self.location(JSON.parse(ev.data)); } catch (e) { /* skipped */ }
    });
  };

  Screen.prototype.protocols = function () {
    var select = document.getElementById("f-type");
    if (!select) return;
    function show() {
      var sets = document.querySelectorAll(".h112-protocol");
      for (var i = 0; i < sets.length; i++) {
        var mine = sets[i].getAttribute("data-type") === select.value;
        sets[i].hidden = !mine;
        sets[i].disabled = !mine;
      }
    }
    select.addEventListener("change", show);
    show();
  };

  Screen.prototype.start = function () {
    this.protocols();
    this.map.start(function (lat, lon) {
      var pairs = [["f-lat", "f-lon"], ["h112-locate-lat", "h112-locate-lon"]];
      var form = document.getElementById("h112-locate");
      if (form) { form.elements.lat.value = lat.toFixed(6); form.elements.lon.value = lon.toFixed(6); }
      var flat = document.getElementById(pairs[0][0]), flon = document.getElementById(pairs[0][1]);
      if (flat && flon) {
        flat.value = lat.toFixed(6);
        flon.value = lon.toFixed(6);
        var source = document.getElementById("f-source");
        if (source) source.value = "map";
        var acc = document.getElementById("f-accuracy");
        if (acc) acc.value = "";
      }
    });
    this.connect();
  };

  document.addEventListener("DOMContentLoaded", function () {
    var screen = document.getElementById("h112-calltaker");
    if (screen) { new Screen(screen).start(); return; }
    var incident = document.getElementById("h112-incident");
    if (incident) new LocationMap(incident).start(null);
  });
})();
