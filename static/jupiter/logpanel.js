/* The shared log panel (SPEC U4, O2, X8): the server renders the file's tail, this script
   then streams new lines over the plugin's WebSocket. Every message carries a sequence
   number; on a gap, or after a reconnect, the panel starts again from a server snapshot. */
(function () {
  "use strict";

  const KEEP = 1000;
  const NAMES = { 10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical" };

  function levelClass(text) {
    const name = (text.split(" ", 4)[2] || "").toLowerCase();
    return "log-" + (Object.values(NAMES).includes(name) ? name : "info");
  }

  function connect(panel) {
    if (panel.dataset.connected) {
      return;
    }
    panel.dataset.connected = "1";
    const list = panel.querySelector("[data-log-lines]");
    const state = panel.querySelector("[data-log-state]");
    const level = panel.querySelector("[data-log-level]");
    const pause = panel.querySelector("[data-log-pause]");
    let socket = null;
    let expected = 1;
    let retries = 0;
    let skipped = 0;

    function show(lines, replace) {
      const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
      if (replace) {
        list.replaceChildren();
      }
      const fragment = document.createDocumentFragment();
      lines.forEach(function (text) {
        const line = document.createElement("div");
        line.className = "log-line " + levelClass(text);
        line.textContent = text; /* plugin text: never parsed as HTML */
        fragment.appendChild(line);
      });
      list.appendChild(fragment);
      while (list.childElementCount > KEEP) {
        list.firstElementChild.remove();
      }
      if (atBottom || replace) {
        list.scrollTop = list.scrollHeight;
      }
    }

    function describe() {
      const live = pause.getAttribute("aria-pressed") === "true" ? "Paused" : "Live";
      state.textContent = skipped
        ? live + ". " + skipped + " lines not shown (rate limit); download the file for all of them."
        : live + ".";
    }

    function send(message) {
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify(message));
      }
    }

    function open() {
      const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + window.location.host + panel.dataset.wsPath);
      expected = 1;
      socket.addEventListener("open", function () {
        retries = 0;
        panel.dataset.live = "1";
        if (level.value) {
          send({ action: "filter", level: level.value });
        }
        if (pause.getAttribute("aria-pressed") === "true") {
          send({ action: "pause" });
        }
        describe();
      });
      socket.addEventListener("message", function (event) {
        const message = JSON.parse(event.data);
        if (message.seq !== expected) {
          socket.close(); /* a gap: reconnect, which starts from a snapshot */
          return;
        }
        expected = message.seq + 1;
        if (message.type === "snapshot") {
          show(message.lines, true);
        } else if (message.type === "lines") {
          show(message.lines.map(function (pair) { return pair[1]; }), false);
          skipped += message.dropped || 0;
        }
        describe();
      });
      socket.addEventListener("close", function () {
        delete panel.dataset.live;
        if (!document.body.contains(panel)) {
          return;
        }
        state.textContent = "Disconnected; reconnecting…";
        window.setTimeout(open, Math.min(10000, 500 * Math.pow(2, retries++)));
      });
    }

    level.addEventListener("change", function () {
      send({ action: "filter", level: level.value });
    });
    pause.addEventListener("click", function () {
      const paused = pause.getAttribute("aria-pressed") !== "true";
      pause.setAttribute("aria-pressed", String(paused));
      pause.textContent = paused ? "Resume" : "Pause";
      send({ action: paused ? "pause" : "resume" });
      describe();
    });
    open();
  }

  function scan(root) {
    if (root.matches && root.matches("[data-log-panel]")) {
      connect(root);
    }
    if (root.querySelectorAll) {
      root.querySelectorAll("[data-log-panel]").forEach(connect);
    }
  }

  document.addEventListener("htmx:load", function (event) {
    scan(event.detail.elt);
  });
  scan(document);
})();
