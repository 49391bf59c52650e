/* window.jupiterBridge: the small JavaScript API plugin panels may use (SPEC U6).
   Documented in docs/bridge-js.md. Plugins never need it for settings, metrics or logs. */
(function () {
  "use strict";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function call(pluginId, route, options) {
    const settings = options || {};
    const method = (settings.method || (settings.body === undefined ? "GET" : "POST")).toUpperCase();
    const init = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    };
    if (settings.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(settings.body);
    }
    const url = "/api/plugins/" + encodeURIComponent(pluginId) + "/" + String(route).replace(/^\/+/, "");
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          const error = new Error(data.error || response.statusText);
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  const sockets = {};

  function subscribe(pluginId, eventName, callback) {
    let entry = sockets[pluginId];
    if (!entry) {
      const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(scheme + window.location.host + "/ws/plugins/" + encodeURIComponent(pluginId) + "/events/");
      entry = sockets[pluginId] = { socket: socket, listeners: [] };
      socket.addEventListener("message", function (event) {
        const message = JSON.parse(event.data);
        entry.listeners.forEach(function (listener) {
          if (listener.name === "*" || listener.name === message.event) {
            listener.callback(message.payload, message);
          }
        });
      });
    }
    const listener = { name: eventName, callback: callback };
    entry.listeners.push(listener);
    return function unsubscribe() {
      entry.listeners = entry.listeners.filter(function (item) { return item !== listener; });
      if (!entry.listeners.length) {
        entry.socket.close();
        delete sockets[pluginId];
      }
    };
  }

  function notify(message, options) {
    const settings = options || {};
    let region = document.getElementById("jupiter-notifications");
    if (!region) {
      region = document.createElement("div");
      region.id = "jupiter-notifications";
      region.className = "notifications";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    const note = document.createElement("div");
    note.className = "notification notification-" + (settings.level === "error" ? "error" : "info");
    note.textContent = String(message);
    region.appendChild(note);
    window.setTimeout(function () { note.remove(); }, settings.timeout || 5000);
    return note;
  }

  function t(key, fallback) {
    const holders = document.querySelectorAll("[data-i18n]");
    for (const holder of holders) {
      try {
        const messages = JSON.parse(holder.dataset.i18n);
        if (Object.prototype.hasOwnProperty.call(messages, key)) {
          return messages[key];
        }
      } catch (error) {
        /* a malformed table is skipped */
      }
    }
    return fallback === undefined ? key : fallback;
  }

  window.jupiterBridge = Object.freeze({ version: 1, call: call, subscribe: subscribe, notify: notify, t: t });
})();
