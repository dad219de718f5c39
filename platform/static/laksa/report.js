/* The report form (/lapor): category questions, where the complaint will go, the point on the map
   (tap, or the browser's location), open complaints nearby to support instead. Everything here
   adds to a form that works without it: the address and kecamatan fields need no map. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form || !window.laksa) return;
  var k = window.laksa;
  var T = k.texts();
  var csrf = (form.querySelector('input[name="_csrf_token"]') || {}).value || "";
  var desc = document.getElementById("description");
  var category = document.getElementById("category");
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  var kec = document.getElementById("kecamatan_code");
  var preview = document.getElementById("routing-preview");
  var nearbyBox = document.getElementById("nearby");
  var status = document.getElementById("map-status");
  var photos = document.getElementById("photos");
  var locate = document.getElementById("locate");
  var clear = document.getElementById("clear-point");
  var pointActions = document.getElementById("point-actions");

  // ---- the chosen category's questions only (the others are switched off, so not sent)
  function showAttributes() {
    form.querySelectorAll("fieldset.attributes").forEach(function (fs) {
      var on = fs.getAttribute("data-category") === category.value;
      fs.hidden = !on;
      fs.disabled = !on;
    });
  }

  // ---- where will this go
  var previewTimer = null;
  var previewSeq = 0;
  function schedulePreview() { clearTimeout(previewTimer); previewTimer = setTimeout(runPreview, 350); }
  function runPreview() {
    var text = desc.value.trim();
    if (!text) { preview.hidden = true; preview.replaceChildren(); return; }
    var body = { description: text.slice(0, 4000) };
    if (category.value) body.category = category.value;
    if (lat.value && lon.value) { body.lat = parseFloat(lat.value); body.lon = parseFloat(lon.value); }
    else if (kec.value) body.kecamatan_code = kec.value;
    var seq = ++previewSeq;
    fetch("/api/v1/laksa/routing/preview", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json", "x-csrftoken": csrf },
      body: JSON.stringify(body)
    }).then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) { if (seq === previewSeq) renderPreview(data); })
      .catch(function () {
        if (seq !== previewSeq) return;
        preview.hidden = false;
        preview.replaceChildren(k.el("p", { text: T["preview.failed"] }));
      });
  }
  function renderPreview(d) {
    var lines = [];
    var where = d.agency
      ? k.fmt(T["preview.agency"], { agency: d.agency.name + " (" + d.agency.abbreviation + ")" })
      : T["preview.triage"];
    lines.push(k.el("p", { "class": "preview-where" }, [k.el("strong", { text: where })]));
    if (d.matched_tags && d.matched_tags.length) {
      lines.push(k.el("p", { text: k.fmt(T["preview.tags"], { tags: d.matched_tags.map(function (t) { return "#" + t; }).join(", ") }) }));
    } else if (d.via === "category") {
      lines.push(k.el("p", { text: T["preview.category"] }));
    } else if (!d.hashtags || !d.hashtags.length) {
      lines.push(k.el("p", { "class": "hint", text: T["preview.no_tags"] }));
    }
    if (d.emergency) lines.push(k.el("p", { "class": "preview-emergency", text: T["preview.emergency"] }));
    if (d.sla_hours) lines.push(k.el("p", { text: k.fmt(T["preview.sla"], { hours: d.sla_hours }) }));
    if (d.kecamatan) lines.push(k.el("p", { text: k.fmt(T["preview.kecamatan"], { kecamatan: d.kecamatan }) }));
    preview.replaceChildren(k.el("p", { "class": "preview-title", text: T["preview.empty"] }), ...lines);
    preview.hidden = false;
  }

  // ---- open complaints nearby
  var nearbyTimer = null;
  var nearbySeq = 0;
  function scheduleNearby() { clearTimeout(nearbyTimer); nearbyTimer = setTimeout(runNearby, 400); }
  function runNearby() {
    if (!lat.value || !lon.value) { nearbyBox.hidden = true; nearbyBox.replaceChildren(); return; }
    var q = new URLSearchParams({ lat: lat.value, lon: lon.value });
    if (category.value) q.set("category", category.value);
    else if (desc.value.trim()) q.set("description", desc.value.trim().slice(0, 4000));
    var seq = ++nearbySeq;
    fetch("/api/v1/laksa/nearby?" + q.toString(), { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) { if (seq === nearbySeq) renderNearby(data); })
      .catch(function () { if (seq === nearbySeq) { nearbyBox.hidden = true; } });
  }
  function renderNearby(d) {
    var items = d.items || [];
    if (!items.length) { nearbyBox.hidden = true; nearbyBox.replaceChildren(); return; }
    var list = k.el("ul", { "class": "complaints" });
    items.forEach(function (item) {
      var support = k.el("form", { method: "post", action: "/laporan/" + item.id + "/dukung", "class": "inline" }, [
        k.el("input", { type: "hidden", name: "_csrf_token", value: csrf }),
        k.el("button", { type: "submit", "class": "secondary", text: T["nearby.support"] })
      ]);
      list.appendChild(k.el("li", { "class": "card complaint-item" }, [
        k.el("p", { "class": "badges" }, [
          k.el("a", { href: "/laporan/" + item.id, target: "_blank", rel: "noopener", text: "#" + item.id + " " + T["nearby.open"] }),
          " ",
          k.el("span", { "class": "badge state state-" + item.state, text: (T.states || {})[item.state] || item.state })
        ]),
        k.el("p", { "class": "summary", text: item.summary || T["nearby.no_summary"] }),
        k.el("p", { "class": "hint", text: k.fmt(T["nearby.distance"], { m: Math.round(item.distance_m) }) + " · " + k.fmt(T["nearby.supporters"], { n: item.support_count }) }),
        support
      ]));
    });
    nearbyBox.replaceChildren(
      k.el("h2", { text: T["nearby.title"] }),
      k.el("p", { text: k.fmt(T["nearby.intro"], { radius: d.radius_m }) }),
      list
    );
    nearbyBox.hidden = false;
  }

  // ---- the point: the map, the browser's location
  var map = null;
  var marker = null;
  function setPoint(latitude, longitude, zoom) {
    lat.value = Number(latitude).toFixed(6);
    lon.value = Number(longitude).toFixed(6);
    if (map) {
      if (marker) marker.setLatLng([latitude, longitude]);
      else marker = L.marker([latitude, longitude]).addTo(map);
      if (zoom) map.setView([latitude, longitude], Math.max(map.getZoom(), 17));
    }
    status.textContent = k.fmt(T["map.point_set"], { lat: lat.value, lon: lon.value });
    clear.hidden = false;
    pointActions.hidden = false;
    schedulePreview();
    scheduleNearby();
  }
  function clearPoint() {
    lat.value = "";
    lon.value = "";
    if (marker && map) { map.removeLayer(marker); marker = null; }
    status.textContent = "";
    clear.hidden = true;
    schedulePreview();
    scheduleNearby();
  }
  var mapEl = document.getElementById("report-map");
  if (mapEl && k.leafletReady()) {
    mapEl.hidden = false;
    map = L.map(mapEl);
    k.tiles(map, mapEl.getAttribute("data-tile-url"), status, T["map.tiles_failed"]);
    var b = k.bounds(mapEl.getAttribute("data-bounds"));
    if (b) map.fitBounds(b); else map.setView([-2.5, 118], 5);
    map.on("click", function (e) { setPoint(e.latlng.lat, e.latlng.lng, false); });
    if (mapEl.getAttribute("data-lat")) {
      setPoint(mapEl.getAttribute("data-lat"), mapEl.getAttribute("data-lon"), true);
    }
  } else if (lat.value && lon.value) {
    status.textContent = k.fmt(T["map.point_set"], { lat: lat.value, lon: lon.value });
    clear.hidden = false;
    pointActions.hidden = false;
  }
  if (navigator.geolocation) {
    locate.hidden = false;
    pointActions.hidden = false;
    locate.addEventListener("click", function () {
      status.textContent = T["locate.busy"];
      navigator.geolocation.getCurrentPosition(
        function (pos) { setPoint(pos.coords.latitude, pos.coords.longitude, true); },
        function () { status.textContent = T["locate.failed"]; },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }
  clear.addEventListener("click", clearPoint);

  // ---- photos: say at once when there are too many
  photos.addEventListener("change", function () {
    var max = Number(photos.getAttribute("data-max") || 5);
    photos.setCustomValidity(photos.files.length > max ? k.fmt(T["photos.too_many"], { max: max }) : "");
    photos.reportValidity();
  });

  desc.addEventListener("input", function () { schedulePreview(); if (!category.value) scheduleNearby(); });
  category.addEventListener("change", function () { showAttributes(); schedulePreview(); scheduleNearby(); });
  kec.addEventListener("change", schedulePreview);
  showAttributes();
  if (desc.value.trim()) schedulePreview();
  k.oncePerSubmit(form, T.sending);

  window.laksaReport = { map: function () { return map; }, setPoint: setPoint, clearPoint: clearPoint };
})();
