/* The import graph (presenters/graph.py): zoom and pan by changing the SVG's viewBox, and
   open a package in place. Without this script the graph is still there and every package
   is a plain link to the same view. No inline script or style: the CSP forbids them. */
(function () {
  "use strict";

  function box(svg) {
    const v = svg.viewBox.baseVal;
    return { x: v.x, y: v.y, w: v.width, h: v.height };
  }

  function setBox(svg, b) {
    svg.setAttribute("viewBox", [b.x, b.y, b.w, b.h].map(function (n) { return n.toFixed(1); }).join(" "));
  }

  function zoom(svg, factor, cx, cy) {
    const b = box(svg);
    const w = b.w * factor, h = b.h * factor;
    setBox(svg, { x: cx - (cx - b.x) * factor, y: cy - (cy - b.y) * factor, w: w, h: h });
  }

  function point(svg, event) {
    const rect = svg.getBoundingClientRect();
    const b = box(svg);
    return {
      x: b.x + (event.clientX - rect.left) * b.w / rect.width,
      y: b.y + (event.clientY - rect.top) * b.h / rect.height,
    };
  }

  function setUp(area) {
    const svg = area.querySelector("svg[data-graph]");
    if (!svg || svg.dataset.ready) return;
    svg.dataset.ready = "1";
    const initial = box(svg);
    let drag = null;
    let moved = false;

    svg.addEventListener("wheel", function (event) {
      event.preventDefault();
      const p = point(svg, event);
      zoom(svg, event.deltaY > 0 ? 1.2 : 1 / 1.2, p.x, p.y);
    }, { passive: false });
    svg.addEventListener("pointerdown", function (event) {
      drag = { x: event.clientX, y: event.clientY, b: box(svg) };
      moved = false;
    });
    svg.addEventListener("pointermove", function (event) {
      if (!drag) return;
      const rect = svg.getBoundingClientRect();
      const dx = (event.clientX - drag.x) * drag.b.w / rect.width;
      const dy = (event.clientY - drag.y) * drag.b.h / rect.height;
      if (Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) > 4) moved = true;
      if (moved) setBox(svg, { x: drag.b.x - dx, y: drag.b.y - dy, w: drag.b.w, h: drag.b.h });
    });
    ["pointerup", "pointerleave"].forEach(function (name) {
      svg.addEventListener(name, function () { drag = null; });
    });
    svg.addEventListener("click", function (event) {
      if (moved) { event.preventDefault(); moved = false; }
    }, true);

    area.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        const b = box(svg);
        if (button.dataset.zoom === "fit") setBox(svg, initial);
        else zoom(svg, button.dataset.zoom === "in" ? 1 / 1.25 : 1.25, b.x + b.w / 2, b.y + b.h / 2);
      });
    });
  }

  function open(area, url, push) {
    area.setAttribute("aria-busy", "true");
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        const holder = document.createElement("div");
        holder.innerHTML = html;
        const fresh = holder.querySelector("[data-graph-area]");
        if (!fresh) throw new Error("no graph in the answer");
        area.replaceWith(fresh);
        if (push) history.pushState({ graph: url }, "", url);
        setUp(fresh);
      })
      .catch(function () { window.location.assign(url); });
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest("[data-graph-area] a[data-expand]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    open(link.closest("[data-graph-area]"), link.getAttribute("href"), true);
  });

  window.addEventListener("popstate", function () {
    const area = document.querySelector("[data-graph-area]");
    if (area) open(area, window.location.href, false);
  });

  document.querySelectorAll("[data-graph-area]").forEach(setUp);
})();
