/* The public map (/peta) and the small map of one complaint. The list under the map is the
   server's, so without scripts or tiles nothing is lost. Popups are built from DOM nodes: the
   texts of complaints never go through innerHTML. */
(function () {
  "use strict";
  if (!window.laksa) return;
  var k = window.laksa;
  var T = k.texts();
  var status = document.getElementById("map-status");

  function popup(p) {
    var states = T.states || {};
    var category = (document.documentElement.lang === "en" && p.category_en) || p.category;
    return k.el("div", { "class": "popup" }, [
      k.el("p", {}, [k.el("a", { href: "/laporan/" + p.id, text: "#" + p.id + " " + (T.open || "") })]),
      k.el("p", {}, [k.el("span", { "class": "badge state state-" + p.state, text: states[p.state] || p.state })]),
      category ? k.el("p", { "class": "hint", text: category + (p.kecamatan ? " · " + p.kecamatan : "") }) : null,
      p.description ? k.el("p", { text: p.description.length > 160 ? p.description.slice(0, 159) + "…" : p.description }) : null,
      p.blurred ? k.el("p", { "class": "hint", text: T.blurred }) : null
    ]);
  }

  var publicEl = document.getElementById("public-map");
  if (publicEl && k.leafletReady()) {
    publicEl.hidden = false;
    var map = L.map(publicEl);
    k.tiles(map, publicEl.getAttribute("data-tile-url"), status, T.tiles_failed);
    var b = k.bounds(publicEl.getAttribute("data-bounds"));
    if (b) map.fitBounds(b); else map.setView([-2.5, 118], 5);
    var group = L.featureGroup().addTo(map);
    fetch(publicEl.getAttribute("data-source"), { credentials: "same-origin", headers: { accept: "application/geo+json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (fc) {
        var n = 0;
        (fc.features || []).forEach(function (f) {
          if (!f.geometry || !f.geometry.coordinates) return;
          var lonlat = f.geometry.coordinates;
          var p = f.properties || {};
          var open = p.status === "open";
          var layer = p.blurred
            ? L.circle([lonlat[1], lonlat[0]], { radius: 300, color: "#5b6575", fillOpacity: 0.15, className: "blurred" })
            : L.circleMarker([lonlat[1], lonlat[0]], {
              radius: p.emergency ? 10 : 8,
              color: p.emergency ? "#b42318" : (open ? "#b54708" : "#0b6e4f"),
              fillOpacity: 0.8,
              className: "complaint-marker"
            });
          layer.bindPopup(popup(Object.assign({ id: f.id }, p)));
          group.addLayer(layer);
          n += 1;
        });
        if (n && !b) map.fitBounds(group.getBounds(), { maxZoom: 16 });
        if (status && !status.textContent) status.textContent = k.fmt(T.count, { n: n });
        window.laksaMap = { map: map, markers: n };
      })
      .catch(function () { if (status) status.textContent = T.failed; });
  }

  var pointEl = document.getElementById("complaint-map");
  if (pointEl && k.leafletReady()) {
    var at = (pointEl.getAttribute("data-point") || "").split(",").map(Number);
    if (at.length === 2 && !at.some(isNaN)) {
      pointEl.hidden = false;
      var small = L.map(pointEl, { scrollWheelZoom: false }).setView(at, 16);
      k.tiles(small, pointEl.getAttribute("data-tile-url"), null, "");
      if (pointEl.getAttribute("data-blurred")) L.circle(at, { radius: 300, color: "#5b6575" }).addTo(small);
      else L.marker(at).addTo(small);
    }
  }
})();
