/* Feedback on every page (issue 15): live relative times, toasts, the true state after Back.
 *
 * - <time class="relative-time" datetime="..."> says "12 s ago", "3 min ago"... and keeps
 *   moving, every second, without asking the server.
 * - The bell (#notification-bell) carries the newest unread notification (data-latest-*):
 *   when a newer one arrives (a job ended, a plugin failed) it is shown once as a toast.
 *   The first bell a tab sees only sets the mark: old news is on the Notifications page.
 * - A page restored from the back-forward cache is reloaded, so a button never shows the
 *   state from before a click (the server also sends Cache-Control: no-store).
 */
(function () {
  "use strict";
  if (window.jupiterFeedback) return;

  const SEEN_KEY = "jupiter.toast.seen";
  const TOAST_MS = 8000;
  const STEPS = [[60, 1, "s"], [3600, 60, "min"], [86400, 3600, "h"], [Infinity, 86400, "d"]];

  function ago(seconds) {
    const value = Math.max(0, seconds);
    for (const [limit, unit, label] of STEPS) {
      if (value < limit) return Math.floor(value / unit) + " " + label + " ago";
    }
    return "";
  }

  function refreshTimes() {
    const now = Date.now();
    document.querySelectorAll("time.relative-time[datetime]").forEach(function (node) {
      const at = Date.parse(node.getAttribute("datetime"));
      if (!Number.isNaN(at)) node.textContent = ago((now - at) / 1000);
    });
  }

  function region() {
    let found = document.getElementById("jupiter-toasts");
    if (!found) {
      found = document.createElement("div");
      found.id = "jupiter-toasts";
      found.className = "toasts";
      found.setAttribute("role", "status");
      found.setAttribute("aria-live", "polite");
      document.body.appendChild(found);
    }
    return found;
  }

  function toast(title, level, link) {
    const note = document.createElement("div");
    note.className = "toast toast-" + (level || "info");
    const text = document.createElement(link ? "a" : "span");
    text.textContent = title;
    if (link) text.href = link;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () { note.remove(); });
    note.append(text, close);
    region().appendChild(note);
    window.setTimeout(function () { note.remove(); }, TOAST_MS);
    return note;
  }

  function readBell() {
    const bell = document.getElementById("notification-bell");
    if (!bell) return;
    const latest = Number(bell.dataset.latestId || 0);
    const stored = window.sessionStorage.getItem(SEEN_KEY);
    const onList = document.querySelector("ul.notifications") !== null; // already in view
    if (stored !== null && latest > Number(stored) && !onList) {
      toast(bell.dataset.latestTitle || "", bell.dataset.latestLevel, bell.dataset.latestLink);
    }
    if (stored === null || latest > Number(stored)) {
      window.sessionStorage.setItem(SEEN_KEY, String(latest));
    }
  }

  document.addEventListener("htmx:afterSettle", function () {
    readBell(); // the bell may have been swapped (out of band too): cheap to re-read
    refreshTimes();
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });

  function start() {
    readBell();
    refreshTimes();
    window.setInterval(refreshTimes, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  window.jupiterFeedback = { toast: toast, ago: ago };
})();
