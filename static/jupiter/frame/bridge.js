/* window.jupiterBridge inside a plugin's sandboxed frame (SPEC U6). Documented in
   docs/bridge-js.md.

   The frame has an opaque origin and may not fetch anything (connect-src 'none'): every
   request goes as a message over the MessagePort the console hands this document once it
   has loaded (static/jupiter/frames.js), which checks it and answers. Calls made before
   the port arrives wait for it. This script also sizes the frame to its content and, once
   the document is parsed, imports the panel's modules and calls their mount(container,
   bridge), the original Jupiter's panel contract. */
(function () {
  "use strict";

  function readBoot() {
    const holder = document.getElementById("jupiter-frame");
    if (!holder) {
      return null;
    }
    try {
      return JSON.parse(holder.textContent);
    } catch (error) {
      return null;
    }
  }

  const boot = readBoot() || {
    plugin: { id: "", name: "", version: "" }, panel: {}, project: "", language: "en",
    messages: {}, settings: {}, modules: [], api_prefixes: [],
  };
  let port = null;
  let nextId = 1;
  const waiting = [];
  const pending = new Map();
  const listeners = new Map(); /* sub -> function(message) */
  let announceReady;
  const ready = new Promise(function (resolve) { announceReady = resolve; });

  class BridgeError extends Error {
    constructor(message, status) {
      super(message);
      this.name = "BridgeError";
      this.status = status;
    }
  }

  function post(message) {
    if (port) {
      port.postMessage(message);
    } else {
      waiting.push(message);
    }
  }

  function request(type, fields) {
    const id = nextId++;
    return new Promise(function (resolve, reject) {
      pending.set(id, { resolve: resolve, reject: reject });
      post(Object.assign({ type: type, id: id }, fields || {}));
    });
  }

  function receive(event) {
    const message = event.data;
    if (!message || typeof message !== "object") {
      return;
    }
    if (message.type === "reply") {
      const waiter = pending.get(message.id);
      if (!waiter) {
        return;
      }
      pending.delete(message.id);
      if (message.ok) {
        waiter.resolve(message.data);
      } else {
        const error = message.error || {};
        waiter.reject(new BridgeError(error.message || "refused", error.status || 0));
      }
    } else if (message.type === "event" || message.type === "logs" || message.type === "closed") {
      const listener = listeners.get(message.sub);
      if (listener) {
        listener(message);
      }
    }
  }

  window.addEventListener("message", function (event) {
    /* Only the console (this frame's parent) hands out the port, once. */
    const data = event.data;
    if (port || event.source !== window.parent || !data || data.jupiter !== "connect" || !event.ports[0]) {
      return;
    }
    port = event.ports[0];
    port.onmessage = receive;
    waiting.splice(0).forEach(function (message) { port.postMessage(message); });
    announceReady();
  });

  /* --- the API ------------------------------------------------------------------------ */

  function call(route, options) {
    const settings = options || {};
    const fields = { route: String(route) };
    if (settings.method !== undefined) {
      fields.method = String(settings.method);
    }
    if (settings.query !== undefined) {
      fields.query = settings.query;
    }
    if (settings.body !== undefined) {
      fields.body = settings.body;
    }
    return request("call", fields);
  }

  function readSettings() {
    return request("settings");
  }

  let events = null; /* one "events" subscription per frame, shared by every listener */
  const eventListeners = new Set();

  function subscribe(eventName, callback) {
    const listener = { name: String(eventName), callback: callback };
    eventListeners.add(listener);
    if (!events) {
      events = request("subscribe", { channel: "events" }).then(function (answer) {
        listeners.set(answer.sub, function (message) {
          if (message.type !== "event") {
            return;
          }
          eventListeners.forEach(function (item) {
            if (item.name === "*" || item.name === message.event) {
              try {
                item.callback(message.payload, message);
              } catch (error) {
                console.error(error);
              }
            }
          });
        });
        return answer.sub;
      });
      events.catch(function () { events = null; });
    }
    return function unsubscribe() {
      eventListeners.delete(listener);
      if (!eventListeners.size && events) {
        const closing = events;
        events = null;
        closing.then(function (sub) {
          listeners.delete(sub);
          return request("unsubscribe", { sub: sub });
        }).catch(function () {});
      }
    };
  }

  function logs(callback, options) {
    const fields = { channel: "logs" };
    if (options && options.level) {
      fields.level = String(options.level).toUpperCase();
    }
    let sub = null;
    let stopped = false;
    const started = request("subscribe", fields).then(function (answer) {
      sub = answer.sub;
      if (stopped) {
        request("unsubscribe", { sub: sub }).catch(function () {});
        return;
      }
      listeners.set(sub, function (message) {
        if (message.type === "logs") {
          callback(message.lines, { reset: message.reset, dropped: message.dropped });
        }
      });
    });
    started.catch(function (error) { console.warn("[jupiterBridge] logs: " + error.message); });
    return function unsubscribe() {
      stopped = true;
      if (sub !== null) {
        listeners.delete(sub);
        request("unsubscribe", { sub: sub }).catch(function () {});
      }
    };
  }

  function notify(message, options) {
    /* notify("text", {level}) or the original's notify({type, message}) */
    let text = message;
    let level = options && options.level;
    if (message && typeof message === "object") {
      text = message.message;
      level = message.level || message.type;
    }
    return request("notify", { message: String(text), level: level === undefined ? "info" : String(level) });
  }
  /* ...and the original's notify.info(text), notify.success(text), and so on. */
  ["info", "success", "warning", "error"].forEach(function (level) {
    notify[level] = function (text) { return notify(String(text), { level: level }); };
  });
  Object.freeze(notify);

  function navigate(target) {
    return request("navigate", { target: String(target) });
  }

  function resize(height) {
    return request("resize", { height: Number(height) });
  }

  function t(key, fallback) {
    const messages = boot.messages || {};
    const name = String(key);
    if (Object.prototype.hasOwnProperty.call(messages, name)) {
      return messages[name];
    }
    const parts = name.split(".");
    if (parts.length > 2 && parts[0] === "plugin") {
      const short = parts.slice(2).join(".");
      if (Object.prototype.hasOwnProperty.call(messages, short)) {
        return messages[short];
      }
    }
    return fallback === undefined ? name : fallback;
  }

  /* The original Jupiter's bridge.api: paths under its API prefix map to this plugin's
     routes ("/metrics_manager/all" -> route "all"); query strings become query values. */
  function routeOf(path) {
    let text = String(path);
    let query;
    const mark = text.indexOf("?");
    if (mark >= 0) {
      query = Object.fromEntries(new URLSearchParams(text.slice(mark + 1)));
      text = text.slice(0, mark);
    }
    for (const prefix of boot.api_prefixes || []) {
      const clean = "/" + String(prefix).replace(/^\/+|\/+$/g, "");
      if (clean !== "/" && (text === clean || text.startsWith(clean + "/"))) {
        text = text.slice(clean.length);
        break;
      }
    }
    return { route: text.replace(/^\/+/, ""), query: query };
  }

  /* api.get(path, {responseType: "text"}) (and post/put/... with a third such argument)
     answers text, as the original's did for its downloads and exports. */
  function asText(data) {
    return typeof data === "string" ? data : JSON.stringify(data);
  }

  function apiCall(method) {
    return function (path, body, extra) {
      const target = routeOf(path);
      const options = { method: method, query: target.query };
      const reading = method === "GET" || method === "DELETE";
      const wanted = (reading ? body : extra) || {};
      if (body !== undefined && !reading) {
        options.body = body;
      }
      const answer = call(target.route, options);
      return wanted.responseType === "text" ? answer.then(asText) : answer;
    };
  }

  const i18n = Object.freeze({
    t: t,
    lang: boot.language,
    messages: Object.freeze(Object.assign({}, boot.messages)),
    pluginTranslations: Object.freeze(Object.assign({}, boot.messages)),
  });

  const bridge = {
    version: 2,
    plugin: Object.freeze(Object.assign({}, boot.plugin)),
    panel: Object.freeze(Object.assign({}, boot.panel)),
    project: boot.project,
    language: boot.language,
    ready: ready,
    call: call,
    settings: readSettings,
    subscribe: subscribe,
    logs: logs,
    notify: notify,
    navigate: navigate,
    resize: resize,
    t: t,
    i18n: i18n,
    BridgeError: BridgeError,
    /* The original Jupiter's names, kept so its panels run unchanged where they can. */
    api: Object.freeze({
      baseUrl: "",
      get: apiCall("GET"),
      post: apiCall("POST"),
      put: apiCall("PUT"),
      patch: apiCall("PATCH"),
      delete: apiCall("DELETE"),
    }),
    config: Object.freeze({
      get: readSettings,
      save: function () {
        return Promise.reject(new BridgeError("settings are saved in the console's settings form", 405));
      },
    }),
    events: Object.freeze({
      on: subscribe,
      emit: function () { /* the original's page-local events: nothing leaves the frame */ },
    }),
    toast: Object.freeze({
      show: function (text, level) { return notify(String(text), { level: level || "info" }); },
    }),
    state: Object.freeze({}),
    log: Object.freeze({
      debug: console.debug.bind(console, "[" + boot.plugin.id + "]"),
      info: console.info.bind(console, "[" + boot.plugin.id + "]"),
      warn: console.warn.bind(console, "[" + boot.plugin.id + "]"),
      error: console.error.bind(console, "[" + boot.plugin.id + "]"),
    }),
  };
  window.jupiterBridge = Object.freeze(bridge);

  /* --- the frame's height follows its content ------------------------------------------ */

  let lastHeight = 0;
  let scheduled = false;
  function measure() {
    scheduled = false;
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      resize(height).catch(function () {});
    }
  }
  function schedule() {
    if (!scheduled) {
      scheduled = true;
      window.requestAnimationFrame(measure);
    }
  }

  /* --- mounting the panel's modules ---------------------------------------------------- */

  function showError(text) {
    const root = document.getElementById("plugin-root");
    const line = document.createElement("p");
    line.className = "frame-error";
    line.setAttribute("role", "alert");
    line.textContent = text;
    (root || document.body).appendChild(line);
  }

  async function mountModules() {
    const container = document.getElementById("plugin-root") || document.body;
    for (const url of boot.modules || []) {
      try {
        const module = await import(url);
        const mount = typeof module.mount === "function" ? module.mount
          : typeof module.default === "function" ? module.default : null;
        if (mount) {
          await mount(container, window.jupiterBridge);
        }
      } catch (error) {
        console.error(error);
        showError("This panel's script failed: " + (error && error.message ? error.message : error));
      }
    }
  }

  function start() {
    if ("ResizeObserver" in window) {
      new ResizeObserver(schedule).observe(document.documentElement);
    }
    schedule();
    mountModules();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
