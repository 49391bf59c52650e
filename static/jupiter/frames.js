/* Plugin frames, the console's side (SPEC U5-U7, X6). Documented in docs/bridge-js.md.

   Every [data-plugin-frame] slot becomes an <iframe sandbox="allow-scripts"> when it is
   revealed: the plugin's document runs in an opaque origin, with no cookie, session, CSRF
   token or access to this page. Its only way out is a MessagePort handed to it when its
   document has loaded. Every message on that port is checked here against a fixed schema
   and carried out for the plugin and the rights the server wrote into the slot
   (data-bridge), never for what a message claims: a frame can reach its own plugin's API
   routes, settings, events and logs, show a notification, ask for one of its own pages and
   set its height. Nothing else. A plugin whose API is an application of its own (the
   original Jupiter's FastAPI router, registered as the catch-all route "*") has every
   route under its prefix, with the methods of the catch-all: the server decides which
   exist, under the same roles, CSRF and audit. A frame that loads a second document (it navigated
   itself: a meta refresh, a location change) is stopped and its port closed. */
(function () {
  "use strict";

  const PROTOCOL = 1;
  const MIN_HEIGHT = 48;
  const MAX_HEIGHT = 8000;
  const MAX_IN_FLIGHT = 8;
  const MAX_SUBSCRIPTIONS = 8;
  const MAX_BODY = 256 * 1024;
  const MAX_NOTE = 500;
  const NOTES_PER_WINDOW = 5;
  const NOTE_WINDOW_MS = 10000;
  const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
  /* Path characters only; "%" for the encoded path parameters of a router's routes. */
  const ROUTE = /^[A-Za-z0-9_][A-Za-z0-9_.\/%:~@+,=-]{0,199}$/;
  const ANY_ROUTE = "*"; /* the catch-all of plugins_app/sdk/bridge.py */
  const NOTE_LEVELS = ["info", "success", "warning", "error"];
  const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

  /* The one schema: message type -> its fields and their types ("?" = optional). */
  const SCHEMA = {
    call: { route: "string", method: "string?", query: "object?", body: "json?" },
    settings: {},
    subscribe: { channel: "string", level: "string?" },
    unsubscribe: { sub: "number" },
    notify: { message: "string", level: "string?" },
    navigate: { target: "string" },
    resize: { height: "number" },
  };

  function plain(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value) &&
      Object.getPrototypeOf(value) === Object.prototype;
  }

  function fits(value, type) {
    const optional = type.endsWith("?");
    const kind = optional ? type.slice(0, -1) : type;
    if (value === undefined) {
      return optional;
    }
    if (kind === "json") {
      return true; /* structured-cloned data; sent as JSON, size-checked */
    }
    if (kind === "object") {
      return plain(value);
    }
    if (kind === "number") {
      return typeof value === "number" && Number.isFinite(value);
    }
    return typeof value === kind;
  }

  /* Why a message is refused, or "" when it matches the schema. */
  function problem(message) {
    if (!plain(message) || typeof message.type !== "string") {
      return "a message is an object with a type";
    }
    if (!Object.prototype.hasOwnProperty.call(SCHEMA, message.type)) {
      return "unknown message type " + JSON.stringify(message.type.slice(0, 40));
    }
    if (!Number.isInteger(message.id) || message.id < 0) {
      return "a message needs a numeric id";
    }
    const fields = SCHEMA[message.type];
    for (const key of Object.keys(message)) {
      if (key !== "type" && key !== "id" && !Object.prototype.hasOwnProperty.call(fields, key)) {
        return message.type + " takes no field " + JSON.stringify(key.slice(0, 40));
      }
    }
    for (const key of Object.keys(fields)) {
      if (!fits(message[key], fields[key])) {
        return message.type + "." + key + " must be " + fields[key].replace("?", " (optional)");
      }
    }
    return "";
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function toast(text, level) {
    /* feedback.js (on every console page) owns the toast region; text is never parsed as HTML */
    return window.jupiterFeedback.toast(text, level);
  }

  function socketUrl(path) {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + path;
  }

  function connectFrame(slot, iframe, config) {
    const channel = new MessageChannel();
    const port = channel.port1;
    const subscriptions = new Map();
    const notes = [];
    let inFlight = 0;
    let nextSub = 1;
    let closed = false;

    function send(message) {
      if (!closed) {
        port.postMessage(message);
      }
    }

    function reply(id, data) {
      send({ type: "reply", id: id, ok: true, data: data === undefined ? null : data });
    }

    function fail(id, status, text) {
      send({ type: "reply", id: id, ok: false, error: { status: status, message: String(text) } });
    }

    function request(url, init) {
      return fetch(url, Object.assign({ credentials: "same-origin", redirect: "error" }, init))
        .then(function (response) {
          const json = (response.headers.get("Content-Type") || "").includes("application/json");
          return (json ? response.json() : response.text()).then(function (data) {
            return { status: response.status, ok: response.ok, data: data };
          });
        });
    }

    function call(message) {
      const route = message.route.replace(/^\/+/, "");
      if (!ROUTE.test(route) || route.split("/").includes("..")) {
        return fail(message.id, 400, "not a route name: " + route.slice(0, 60));
      }
      const method = (message.method || (message.body === undefined ? "GET" : "POST")).toUpperCase();
      if (!METHODS.includes(method)) {
        return fail(message.id, 400, "method " + method.slice(0, 10) + " is not allowed");
      }
      const own = Object.prototype.hasOwnProperty.call(config.routes, route);
      const methods = own ? config.routes[route] : config.routes[ANY_ROUTE];
      if (!Array.isArray(methods)) {
        return fail(message.id, 404, "the plugin registered no route " + route);
      }
      if (!methods.includes(method)) {
        return fail(message.id, 405, method + " is not allowed on " + route);
      }
      if (method !== "GET" && !config.rights.operate) {
        return fail(message.id, 403, "your role does not allow changes through this plugin");
      }
      if (inFlight >= MAX_IN_FLIGHT) {
        return fail(message.id, 429, "too many calls at once");
      }
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(message.query || {})) {
        if (!["string", "number", "boolean"].includes(typeof value)) {
          return fail(message.id, 400, "query values are strings, numbers or booleans");
        }
        query.set(key, String(value));
      }
      if (config.project && !query.has("project")) {
        query.set("project", config.project);
      }
      const headers = {
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
        "X-Jupiter-Bridge": config.panel,
      };
      const init = { method: method, headers: headers };
      if (message.body !== undefined && method !== "GET") {
        const body = JSON.stringify(message.body);
        if (body === undefined || body.length > MAX_BODY) {
          return fail(message.id, 413, "the body is not JSON or is larger than 256 KB");
        }
        headers["Content-Type"] = "application/json";
        init.body = body;
      }
      const search = query.toString();
      inFlight += 1;
      request(config.api + route + (search ? "?" + search : ""), init)
        .then(function (answer) {
          if (answer.ok) {
            reply(message.id, answer.data);
          } else {
            const text = plain(answer.data) && answer.data.error ? answer.data.error : "HTTP " + answer.status;
            fail(message.id, answer.status, text);
          }
        })
        .catch(function (error) { fail(message.id, 0, "the call failed: " + error.message); })
        .finally(function () { inFlight -= 1; });
    }

    function settings(message) {
      request(config.settings, { headers: { Accept: "application/json" } })
        .then(function (answer) {
          return answer.ok ? reply(message.id, answer.data.settings) : fail(message.id, answer.status, answer.data.error || "unavailable");
        })
        .catch(function (error) { fail(message.id, 0, error.message); });
    }

    function subscribe(message) {
      const channelName = message.channel;
      if (channelName !== "events" && channelName !== "logs") {
        return fail(message.id, 400, "channel is events or logs");
      }
      if (channelName === "logs" && !config.rights.logs) {
        return fail(message.id, 403, "your roles do not let you read this plugin's logs");
      }
      if (message.level !== undefined && !LOG_LEVELS.includes(message.level)) {
        return fail(message.id, 400, "level is one of " + LOG_LEVELS.join(", "));
      }
      if (subscriptions.size >= MAX_SUBSCRIPTIONS) {
        return fail(message.id, 429, "too many subscriptions");
      }
      const sub = nextSub++;
      const socket = new WebSocket(socketUrl(channelName === "logs" ? config.logs : config.events));
      subscriptions.set(sub, socket);
      socket.addEventListener("open", function () {
        if (channelName === "logs" && message.level) {
          socket.send(JSON.stringify({ action: "filter", level: message.level }));
        }
        reply(message.id, { sub: sub });
      });
      socket.addEventListener("message", function (event) {
        let data;
        try {
          data = JSON.parse(event.data);
        } catch (error) {
          return;
        }
        if (channelName === "events" && data.type === "event") {
          send({ type: "event", sub: sub, event: data.event, payload: data.payload, seq: data.seq, dropped: data.dropped });
        } else if (channelName === "logs" && (data.type === "snapshot" || data.type === "lines")) {
          const lines = (data.lines || []).map(function (line) { return Array.isArray(line) ? line[1] : line; });
          send({ type: "logs", sub: sub, reset: data.type === "snapshot", lines: lines, dropped: data.dropped || 0 });
        }
      });
      socket.addEventListener("close", function () {
        if (subscriptions.get(sub) === socket) {
          subscriptions.delete(sub);
          send({ type: "closed", sub: sub });
        }
      });
    }

    function notify(message) {
      const now = Date.now();
      while (notes.length && now - notes[0] > NOTE_WINDOW_MS) {
        notes.shift();
      }
      if (notes.length >= NOTES_PER_WINDOW) {
        return fail(message.id, 429, "too many notifications");
      }
      const level = message.level || "info";
      if (!NOTE_LEVELS.includes(level)) {
        return fail(message.id, 400, "level is one of " + NOTE_LEVELS.join(", "));
      }
      notes.push(now);
      const pluginName = slot.dataset.title || config.plugin;
      toast(pluginName + ": " + message.message.slice(0, MAX_NOTE), level);
      reply(message.id);
    }

    function navigate(message) {
      const url = config.places[message.target];
      if (typeof url !== "string" || !url.startsWith("/")) {
        return fail(message.id, 400, "target is one of " + Object.keys(config.places).join(", "));
      }
      reply(message.id);
      window.location.assign(url);
    }

    function handle(message) {
      const why = problem(message);
      if (why) {
        console.warn("[jupiter] message from plugin frame " + config.plugin + " refused: " + why);
        return fail(plain(message) && Number.isInteger(message.id) ? message.id : -1, 400, why);
      }
      switch (message.type) {
        case "call":
          return call(message);
        case "settings":
          return settings(message);
        case "subscribe":
          return subscribe(message);
        case "unsubscribe": {
          const socket = subscriptions.get(message.sub);
          subscriptions.delete(message.sub);
          if (socket) {
            socket.close();
          }
          return reply(message.id);
        }
        case "notify":
          return notify(message);
        case "navigate":
          return navigate(message);
        case "resize": {
          const height = Math.max(MIN_HEIGHT, Math.min(MAX_HEIGHT, Math.ceil(message.height)));
          iframe.style.height = height + "px";
          return reply(message.id);
        }
      }
      return undefined;
    }

    port.onmessage = function (event) { handle(event.data); };
    iframe.contentWindow.postMessage({ jupiter: "connect", protocol: PROTOCOL }, "*", [channel.port2]);

    return function close() {
      closed = true;
      port.close();
      subscriptions.forEach(function (socket) { socket.close(); });
      subscriptions.clear();
    };
  }

  function stateLine(slot, text, alert) {
    let line = slot.querySelector("[data-frame-state]");
    if (!line) {
      line = document.createElement("p");
      line.setAttribute("data-frame-state", "");
      slot.appendChild(line);
    }
    line.className = alert ? "frame-stopped" : "muted";
    line.setAttribute("role", alert ? "alert" : "status");
    line.textContent = text;
  }

  function open(slot) {
    let config;
    try {
      config = JSON.parse(slot.dataset.bridge);
    } catch (error) {
      slot.dataset.frame = "broken";
      return stateLine(slot, "This panel cannot be shown.", true);
    }
    const iframe = document.createElement("iframe");
    iframe.setAttribute("sandbox", "allow-scripts");
    iframe.setAttribute("title", slot.dataset.title || config.plugin);
    iframe.setAttribute("referrerpolicy", "no-referrer");
    iframe.className = "plugin-frame-iframe";
    let loads = 0;
    let close = null;
    iframe.addEventListener("load", function () {
      loads += 1;
      if (loads === 1) {
        close = connectFrame(slot, iframe, config);
        slot.dataset.frame = "connected";
        const line = slot.querySelector("[data-frame-state]");
        if (line) {
          line.remove();
        }
        return;
      }
      /* A second document in the same frame: the plugin navigated it. */
      if (close) {
        close();
      }
      iframe.remove();
      slot.dataset.frame = "stopped";
      stateLine(slot, "This panel was stopped: it tried to load another page in its frame.", true);
    });
    iframe.src = slot.dataset.src;
    slot.dataset.frame = "opening";
    slot.appendChild(iframe);
  }

  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) {
          observer.unobserve(entry.target);
          open(entry.target);
        }
      });
    }, { rootMargin: "200px" })
    : null;

  function scan(root) {
    const slots = [];
    if (root.matches && root.matches("[data-plugin-frame]")) {
      slots.push(root);
    }
    if (root.querySelectorAll) {
      slots.push.apply(slots, root.querySelectorAll("[data-plugin-frame]"));
    }
    slots.forEach(function (slot) {
      if (slot.dataset.frame) {
        return;
      }
      slot.dataset.frame = "waiting";
      if (observer) {
        observer.observe(slot);
      } else {
        open(slot);
      }
    });
  }

  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt); });
  scan(document);
})();
