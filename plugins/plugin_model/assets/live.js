/* plugin_model's live chart: a JavaScript module shown in the panel's sandboxed frame.
   Jupiter imports it when the panel is revealed and calls mount(container, bridge), where
   bridge is window.jupiterBridge (docs/bridge-js.md). Everything goes through the bridge:
   the frame has no network access and no cookie of the console. Plain SVG, no library. */

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 180;
const PAD = 28;
const KEEP = 120;

function element(name, attributes, text) {
  const node = name === "svg" || name === "polyline" || name === "circle" || name === "line" || name === "text"
    ? document.createElementNS(SVG, name)
    : document.createElement(name);
  for (const [key, value] of Object.entries(attributes || {})) {
    node.setAttribute(key, String(value));
  }
  if (text !== undefined) {
    node.textContent = text; /* data is always text, never HTML */
  }
  return node;
}

export function mount(container, bridge) {
  const t = bridge.t;
  const points = [];
  const wrapper = element("div", { class: "live" });
  const summary = element("p", { class: "live-summary", "aria-live": "polite" }, t("waiting", "Waiting for samples…"));
  const chart = element("svg", {
    class: "live-chart",
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": t("chart_label", "Greetings over time"),
    "data-points": "0",
  });
  const axis = element("line", { x1: PAD, y1: HEIGHT - PAD, x2: WIDTH - 4, y2: HEIGHT - PAD, class: "live-axis" });
  const top = element("text", { x: 4, y: 14, class: "live-scale" }, "");
  const line = element("polyline", { class: "live-line", points: "" });
  const last = element("circle", { class: "live-last", r: 4, cx: -10, cy: -10 });
  chart.append(axis, top, line, last);
  const actions = element("p", { class: "live-actions" });
  const hello = element("button", { type: "button", class: "primary" }, t("say_hello", "Say hello"));
  const status = element("span", { class: "live-status", role: "status" }, "");
  actions.append(hello, status);
  wrapper.append(summary, chart, actions);
  container.append(wrapper);

  function draw() {
    const shown = points.slice(-KEEP);
    const max = Math.max(1, ...shown.map((p) => p.greetings));
    const first = shown.length ? shown[0].t : 0;
    const span = Math.max(1, (shown.length ? shown[shown.length - 1].t : 1) - first);
    const xy = shown.map((p) => [
      PAD + ((p.t - first) / span) * (WIDTH - PAD - 8),
      HEIGHT - PAD - (p.greetings / max) * (HEIGHT - 2 * PAD),
    ]);
    line.setAttribute("points", xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "));
    chart.setAttribute("data-points", String(shown.length));
    top.textContent = String(max);
    if (xy.length) {
      const [x, y] = xy[xy.length - 1];
      last.setAttribute("cx", x.toFixed(1));
      last.setAttribute("cy", y.toFixed(1));
      const now = shown[shown.length - 1];
      summary.textContent = `${t("greetings", "Greetings")}: ${now.greetings} · ${t("inventories", "Inventories")}: ${now.inventories} · ${shown.length} ${t("samples", "samples")}`;
    }
  }

  function add(point) {
    if (point && typeof point.t === "number") {
      points.push(point);
      if (points.length > KEEP * 2) {
        points.splice(0, points.length - KEEP);
      }
      draw();
    }
  }

  function load() {
    return bridge.call("samples").then((answer) => {
      points.length = 0;
      answer.samples.forEach(add);
    });
  }

  bridge.subscribe("sample", add);
  load().catch((error) => { status.textContent = error.message; });
  /* Asking again keeps the plugin's sampler running while this panel is open. */
  window.setInterval(() => bridge.call("samples").catch(() => {}), 60000);

  hello.addEventListener("click", () => {
    hello.disabled = true;
    bridge.call("greet", { method: "POST" })
      .then((answer) => {
        status.textContent = "";
        return bridge.notify(answer.greeting, { level: "success" });
      })
      .catch((error) => { status.textContent = error.message; })
      .finally(() => { hello.disabled = false; });
  });
}
