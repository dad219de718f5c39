/* Small helpers shared by Laksa's page scripts (no third-party code here). */
(function () {
  "use strict";

  function texts() {
    var node = document.getElementById("laksa-texts");
    if (!node) return {};
    try { return JSON.parse(node.textContent || "{}"); } catch (e) { return {}; }
  }

  /* "Sekitar {n} m" with {n} filled; unknown names stay as they are. */
  function fmt(text, params) {
    return String(text || "").replace(/\{(\w+)\}/g, function (m, k) {
      return params && Object.prototype.hasOwnProperty.call(params, k) ? String(params[k]) : m;
    });
  }

  /* An element with attributes and children; strings become text nodes, never HTML. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] === null || attrs[k] === undefined || attrs[k] === false) return;
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  /* A tile layer that says so when tiles cannot load: the page keeps working without them. */
  function tiles(map, url, status, failedText) {
    var loaded = 0;
    var warned = false;
    var layer = L.tileLayer(url, {
      maxZoom: 19,
      attribution: /openstreetmap/.test(url) ? "&copy; OpenStreetMap" : ""
    });
    layer.on("tileload", function () { loaded += 1; });
    layer.on("tileerror", function () {
      if (!loaded && !warned && status) {
        warned = true;
        status.textContent = failedText || "";
        map.getContainer().classList.add("map-no-tiles");
      }
    });
    layer.addTo(map);
    return layer;
  }

  function bounds(value) {
    if (!value) return null;
    var b = value.split(",").map(Number);
    if (b.length !== 4 || b.some(isNaN)) return null;
    return [[b[1], b[0]], [b[3], b[2]]];
  }

  function leafletReady() {
    if (typeof window.L === "undefined") return false;
    L.Icon.Default.imagePath = "/static/vendor/leaflet/images/";
    return true;
  }

  /* One submit per form: a second tap while the first is on its way does nothing. */
  function oncePerSubmit(form, sendingText) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sending === "1") { event.preventDefault(); return; }
      form.dataset.sending = "1";
      var button = form.querySelector('button[type="submit"]');
      if (button && sendingText) {
        setTimeout(function () { button.disabled = true; button.textContent = sendingText; }, 0);
      }
    });
  }

  window.laksa = { texts: texts, fmt: fmt, el: el, tiles: tiles, bounds: bounds, leafletReady: leafletReady, oncePerSubmit: oncePerSubmit };
})();
