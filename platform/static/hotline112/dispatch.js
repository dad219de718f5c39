/* 112 dispatch: the dispatcher's screen (/112/dispatch) and the dispatch panel of an incident
   (also on /112/insiden/{id}). The server renders the lists; this keeps them current from the
   dispatch stream (SSE) and drives the panel through the JSON API. Text only via textContent. */
(function () {
  "use strict";
  if (window.KL_H112_DISPATCH) return;
  window.KL_H112_DISPATCH = true;

  var API = "/api/v1/hotline112";

  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)kl_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function request(method, path, body) {
    var opts = { method: method, headers: { accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["content-type"] = "application/json";
      opts.headers["x-csrftoken"] = csrf();
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { ok: r.ok, status: r.status, data: data };
      });
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function config(node) {
    try { return JSON.parse(node.getAttribute("data-config") || "{}"); } catch (e) { return {}; }
  }

  var COLOURS = {
    available: "#1a7f37", back_in_service: "#4c9a2a", dispatched: "#d4a106", en_route: "#e36209",
    on_scene: "#cf222e", transporting: "#8250df", at_hospital: "#6639ba", out_of_service: "#6e7781"
  };

  // ---- the panel ---------------------------------------------------------------------------------

  function Panel(node) {
    this.node = node;
    this.id = node.getAttribute("data-incident-id");
    var cfg = config(node);
    this.t = cfg.texts || {};
    this.recs = node.querySelector("[data-h112-recs]");
    this.assigned = node.querySelector("[data-h112-assigned]");
    this.alert = node.querySelector("[data-h112-alert]");
    this.unitIds = {};
    this.timer = null;
  }

  Panel.prototype.tx = function (key) { return this.t[key] || key; };

  Panel.prototype.say = function (text) {
    if (!this.alert) return;
    this.alert.textContent = text || "";
    this.alert.hidden = !text;
  };

  Panel.prototype.load = function () {
    var self = this;
    request("GET", API + "/incidents/" + self.id + "/recommendations").then(function (r) { self.showRecs(r); });
    request("GET", API + "/incidents/" + self.id + "/assignments").then(function (r) { self.showAssigned(r); });
  };

  Panel.prototype.soon = function () {
    var self = this;
    if (self.timer) clearTimeout(self.timer);
    self.timer = setTimeout(function () { self.timer = null; self.load(); }, 250);
  };

  Panel.prototype.minutes = function (seconds) {
    return Math.max(1, Math.round(seconds / 60)) + " " + this.tx("min");
  };

  Panel.prototype.showRecs = function (r) {
    var self = this;
    self.recs.textContent = "";
    if (!r.ok) {
      var code = r.data && r.data.error;
      self.recs.appendChild(el("p", "hint", code === "incident_without_location"
        ? self.tx("panel.no_location") : (r.data && r.data.detail) || self.tx("panel.failed")));
      return;
    }
    if (r.data.state === "closed") { self.recs.appendChild(el("p", "hint", self.tx("panel.closed"))); return; }
    var list = r.data.recommendations || [];
    if (!list.length) { self.recs.appendChild(el("p", "empty", self.tx("rec.none"))); return; }
    var form = el("form", "h112-rec-form");
    var ul = el("ul", "h112-rec-list");
    list.forEach(function (rec) {
      var li = el("li", "h112-rec");
      li.setAttribute("data-unit-id", rec.unit_id);
      var label = el("label");
      var box = el("input");
      box.type = "checkbox"; box.name = "unit_ids"; box.value = rec.unit_id;
      label.appendChild(box);
      label.appendChild(el("strong", null, " " + rec.call_sign));
      var typeName = document.documentElement.lang === "en" ? rec.type_name_en : rec.type_name_id;
      label.appendChild(el("span", "h112-rec-type", " " + (typeName || rec.type)));
      li.appendChild(label);
      li.appendChild(el("span", "h112-rec-figures", self.tx("rec.distance") + " " +
        (rec.distance_m / 1000).toFixed(1) + " " + self.tx("km") + " · " + self.tx("rec.eta") + " " +
        self.minutes(rec.eta_seconds)));
      var go = el("button", "small", self.tx("rec.assign"));
      go.type = "button";
      go.setAttribute("data-assign", rec.unit_id);
      go.addEventListener("click", function () { self.assign([Number(rec.unit_id)], go); });
      li.appendChild(go);
      ul.appendChild(li);
    });
    form.appendChild(ul);
    var many = el("button", "secondary", self.tx("rec.assign_selected"));
    many.type = "submit";
    form.appendChild(many);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var ids = Array.prototype.map.call(form.querySelectorAll("input[name=unit_ids]:checked"),
        function (b) { return Number(b.value); });
      if (ids.length) self.assign(ids, many);
    });
    self.recs.appendChild(form);
  };

  Panel.prototype.assign = function (ids, button) {
    var self = this;
    if (button) button.disabled = true;
    request("POST", API + "/incidents/" + self.id + "/assignments", { unit_ids: ids }).then(function (r) {
      if (button) button.disabled = false;
      self.say(r.ok ? "" : (r.data && r.data.detail) || self.tx("panel.failed"));
      if (r.ok) self.say(self.tx("rec.assigned"));
      self.load();
    }, function () { if (button) button.disabled = false; self.say(self.tx("panel.failed")); });
  };

  Panel.prototype.setStatus = function (unitId, status, button) {
    var self = this;
    if (button) button.disabled = true;
    request("POST", API + "/units/" + unitId + "/status", { status: status }).then(function (r) {
      self.say(r.ok ? "" : (r.data && r.data.detail) || self.tx("panel.failed"));
      self.load();
    }, function () { self.say(self.tx("panel.failed")); });
  };

  Panel.prototype.showAssigned = function (r) {
    var self = this;
    self.assigned.textContent = "";
    self.unitIds = {};
    if (!r.ok) { self.assigned.appendChild(el("p", "hint", (r.data && r.data.detail) || self.tx("panel.failed"))); return; }
    var rows = r.data.assignments || [];
    if (!rows.length) { self.assigned.appendChild(el("p", "empty", self.tx("assigned.none"))); return; }
    var ul = el("ul", "h112-assigned-list");
    rows.forEach(function (a) {
      var u = a.unit || {};
      self.unitIds[a.unit_id] = true;
      var li = el("li", "h112-assignment state-" + a.state);
      li.setAttribute("data-unit-id", a.unit_id);
      li.appendChild(el("strong", null, u.call_sign || ("#" + a.unit_id)));
      var dot = el("span", "dot");
      dot.style.background = COLOURS[u.status] || "#999";
      li.appendChild(dot);
      if (a.state === "active") {
        li.appendChild(el("span", "h112-status", self.tx("status." + u.status)));
        var tools = el("span", "h112-status-buttons");
        (u.allowed || []).forEach(function (next) {
          if (next === "dispatched") return;
          var b = el("button", "small secondary", self.tx("to." + next));
          b.type = "button";
          b.setAttribute("data-status", next);
          b.addEventListener("click", function () { self.setStatus(a.unit_id, next, b); });
          tools.appendChild(b);
        });
        li.appendChild(tools);
      } else {
        li.appendChild(el("span", "h112-status", self.tx("assigned." + a.state)));
      }
      ul.appendChild(li);
    });
    self.assigned.appendChild(ul);
  };

  // ---- the dispatcher's screen --------------------------------------------------------------------

  function Screen(node, panels) {
    this.node = node;
    this.panels = panels;
    var cfg = config(node);
    this.t = cfg.texts || {};
    this.colours = cfg.colours || COLOURS;
    this.markers = {};
    this.incidentMarkers = {};
    this.map = null;
    this.live = document.getElementById("h112-live");
  }

  Screen.prototype.tx = function (key) { return this.t[key] || key; };

  Screen.prototype.startMap = function () {
    var box = document.getElementById("h112-map");
    if (!box || typeof L === "undefined") return;
    var self = this;
    var units = [];
    try { units = JSON.parse(self.node.getAttribute("data-markers") || "[]"); } catch (e) { units = []; }
    self.map = L.map(box, { zoomControl: true });
    var tiles = L.tileLayer(self.node.getAttribute("data-tiles"), { maxZoom: 19, attribution: "© OpenStreetMap" });
    tiles.on("tileerror", function () {
      var note = document.getElementById("h112-map-note");
      if (note) note.hidden = false;
    });
    tiles.addTo(self.map);
    var incidents = [];
    try { incidents = JSON.parse(self.node.getAttribute("data-incidents") || "[]"); } catch (e) { incidents = []; }
    units.forEach(function (u) { self.place(u.id, u.call_sign, u.status, u.lat, u.lon); });
    incidents.forEach(function (i) { self.placeIncident(i); });
    var points = units.map(function (u) { return [u.lat, u.lon]; })
      .concat(incidents.map(function (i) { return [i.lat, i.lon]; }));
    if (points.length) self.map.fitBounds(points, { padding: [20, 20], maxZoom: 15 });
    else self.map.setView([-6.1783, 106.6319], 12);
  };

  Screen.prototype.place = function (id, callSign, status, lat, lon) {
    if (!this.map || lat === null || lon === null || lat === undefined) return;
    var colour = this.colours[status] || "#999";
    var m = this.markers[id];
    if (!m) {
      m = L.circleMarker([lat, lon], { radius: 8, weight: 2, color: "#fff", fillColor: colour, fillOpacity: 0.95 });
      m.bindTooltip(callSign);
      m.addTo(this.map);
      this.markers[id] = m;
    } else {
      m.setLatLng([lat, lon]);
      m.setStyle({ fillColor: colour });
    }
    m.setTooltipContent(callSign + " · " + this.tx("status." + status));
  };

  Screen.prototype.onUnit = function (u) {
    this.place(u.unit_id, u.call_sign, u.status, u.lat, u.lon);
    var row = this.node.querySelector('#h112-unit-rows tr[data-unit-id="' + u.unit_id + '"]');
    if (row) {
      var cell = row.querySelector(".h112-status");
      if (cell && cell.getAttribute("data-status") !== u.status) {
        cell.setAttribute("data-status", u.status);
        cell.textContent = "";
        var dot = el("span", "dot");
        dot.style.background = this.colours[u.status] || "#999";
        cell.appendChild(dot);
        cell.appendChild(document.createTextNode(this.tx("status." + u.status)));
      }
      var inc = row.lastElementChild;
      if (inc) {
        inc.textContent = "";
        if (u.incident_id) {
          var a = el("a", null, "#" + u.incident_id);
          a.href = "/112/dispatch?insiden=" + u.incident_id;
          inc.appendChild(a);
        }
      }
    } else if (u.active !== false) {
      this.reloadSoon();
    }
  };

  Screen.prototype.onIncident = function (i) {
    var item = this.node.querySelector('#h112-incident-list li[data-incident-id="' + i.incident_id + '"]');
    if (!item || i.state === "closed") { this.reloadSoon(); return; }
    var state = item.querySelector(".h112-state");
    if (state) state.textContent = this.tx("state." + i.state);
    var chosen = document.getElementById("h112-chosen-state");
    if (chosen && String(this.node.getAttribute("data-incident-id")) === String(i.incident_id)) {
      chosen.textContent = this.tx("state." + i.state);
    }
    this.placeIncident(i);
  };

  Screen.prototype.placeIncident = function (i) {
    if (!this.map || i.lat === null || i.lon === null || i.lat === undefined) return;
    var m = this.incidentMarkers[i.incident_id];
    var label = "#" + i.incident_id + " " + (i.priority || "") + " · " + this.tx("state." + i.state);
    if (!m) {
      m = L.marker([i.lat, i.lon], { title: label, keyboard: false });
      m.bindTooltip(label);
      m.addTo(this.map);
      this.incidentMarkers[i.incident_id] = m;
    } else {
      m.setLatLng([i.lat, i.lon]);
      m.setTooltipContent(label);
    }
  };

  Screen.prototype.reloadSoon = function () {
    // A new incident or unit: the server's list is the truth (order by priority); reload it gently.
    var self = this;
    if (self.reloading) return;
    self.reloading = setTimeout(function () {
      if (!document.querySelector("[data-h112-panel] input:checked")) window.location.reload();
      self.reloading = null;
    }, 1500);
  };

  // ---- the stream ------------------------------------------------------------------------------------

  function listen(screen, panels) {
    if (typeof EventSource === "undefined") return;
    var status = document.getElementById("h112-live");
    var texts = screen ? screen.t : (panels[0] ? panels[0].t : {});
    function show(key) { if (status) status.textContent = texts[key] || key; }
    var source = new EventSource(API + "/dispatch/stream");
    source.addEventListener("hello", function () {
      show("live.on");
      panels.forEach(function (p) { p.load(); });
    });
    source.addEventListener("unit", function (ev) {
      var u; try { u = JSON.parse(ev.data); } catch (e) { return; }
      if (screen) screen.onUnit(u);
      panels.forEach(function (p) {
        if (String(u.incident_id) === String(p.id) || p.unitIds[u.unit_id]) p.soon();
        else if (u.status === "available" || u.status === "back_in_service") p.soon();
      });
    });
    source.addEventListener("incident", function (ev) {
      var i; try { i = JSON.parse(ev.data); } catch (e) { return; }
      if (screen) screen.onIncident(i);
      panels.forEach(function (p) { if (String(i.incident_id) === String(p.id)) p.soon(); });
    });
    source.onerror = function () { show("live.off"); };
  }

  function start() {
    var panels = Array.prototype.map.call(document.querySelectorAll("[data-h112-panel]"), function (n) {
      var p = new Panel(n);
      p.load();
      return p;
    });
    var node = document.getElementById("h112-dispatch");
    var screen = node ? new Screen(node, panels) : null;
    if (screen) screen.startMap();
    if (screen || panels.length) listen(screen, panels);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
