/* Live job progress (SPEC J2, X8).
 *
 * Every element with data-job-stream opens a WebSocket (data-ws-path) and receives the events
 * of one job or of every job of a project: {type, job, seq, state, progress, message}.
 * Events are hints; the stored job record is the truth. A panel (data-job-panel, rendered
 * from the record, carrying data-job-seq) applies an event only if it is the next in
 * sequence; on a gap, on (re)connection, when the socket closes and on the final event it
 * re-reads the record (data-panel-url) instead. Events for a panel not on the page yet (the
 * answer to "Scan" is still on its way) are kept and replayed once it arrives.
 */
(function () {
  "use strict";
  if (window.jupiterJobs) return;

  const FINAL = new Set(["completed", "failed", "cancelled"]);
  const LABELS = {
    pending: "Pending", running: "Running", completed: "Completed",
    failed: "Failed", cancelled: "Cancelled",
  };
  const MAX_WAITING = 500;
  const waiting = new Map(); // job id -> events that arrived before their panel

  function panelOf(jobId) {
    return document.getElementById("job-" + jobId);
  }

  function resync(panel) {
    if (!panel.isConnected || panel.dataset.resyncing) return;
    panel.dataset.resyncing = "1";
    const wasFinal = FINAL.has(panel.dataset.jobState);
    const stream = panel.closest("[data-job-stream]");
    htmx.ajax("GET", panel.dataset.panelUrl, { target: panel, swap: "outerHTML" })
      .then(function () {
        const fresh = document.getElementById(panel.id);
        if (!wasFinal && fresh && FINAL.has(fresh.dataset.jobState) && stream) {
          refreshResults(stream); // the job ended while its events were missed
        }
      })
      .finally(function () { delete panel.dataset.resyncing; });
  }

  function refreshResults(stream) {
    const results = stream.querySelector("[data-job-results]");
    if (results) {
      htmx.ajax("GET", results.dataset.resultsUrl, { target: results, swap: "outerHTML" });
    }
    htmx.trigger(document.body, "jupiter:results"); // findings and charts re-read themselves
  }

  function apply(panel, event) {
    panel.dataset.jobSeq = String(event.seq);
    panel.dataset.jobState = event.state;
    const bar = panel.querySelector("progress");
    if (bar) {
      bar.value = event.progress;
      bar.textContent = event.progress + "%";
    }
    const percent = panel.querySelector("[data-job-percent]");
    if (percent) percent.textContent = event.progress + "%";
    const message = panel.querySelector("[data-job-message]");
    if (message) message.textContent = event.message;
    const label = panel.querySelector("[data-job-state-label]");
    if (label) {
      label.textContent = LABELS[event.state] || event.state;
      label.className = "status status-job-" + event.state;
    }
  }

  function handle(stream, event) {
    const panel = panelOf(event.job);
    if (!panel) {
      const queue = waiting.get(event.job) || [];
      if (waiting.size < MAX_WAITING) waiting.set(event.job, queue.concat([event]));
      return;
    }
    if (waiting.has(event.job)) {
      waiting.get(event.job).push(event); // earlier events came before the panel: in order
      replayWaiting(panel);
      return;
    }
    const last = Number(panel.dataset.jobSeq || 0);
    if (event.seq <= last) return; // already shown (the record was re-read meanwhile)
    if (event.seq !== last + 1) {
      resync(panel); // a message was lost: the record knows
      return;
    }
    apply(panel, event);
    if (FINAL.has(event.state)) {
      resync(panel);
      refreshResults(stream);
      // The bell re-reads its count, and feedback.js shows the job's end as a toast.
      document.body.dispatchEvent(new CustomEvent("jupiter:job-ended", { detail: event }));
    }
  }

  function replayWaiting(panel) {
    const jobId = panel.id.slice("job-".length);
    const queue = waiting.get(jobId);
    if (!queue) return;
    waiting.delete(jobId);
    const stream = panel.closest("[data-job-stream]");
    queue.sort(function (a, b) { return a.seq - b.seq; })
      .forEach(function (event) { handle(stream, event); });
  }

  function resyncUnfinished(stream) {
    stream.querySelectorAll("[data-job-panel]").forEach(function (panel) {
      if (!FINAL.has(panel.dataset.jobState)) resync(panel);
    });
  }

  function connect(stream, attempt) {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + stream.dataset.wsPath);
    socket.addEventListener("open", function () {
      stream.dataset.wsState = "open";
      attempt = 0;
      resyncUnfinished(stream); // events sent before we subscribed are in the record
    });
    socket.addEventListener("message", function (message) {
      handle(stream, JSON.parse(message.data));
    });
    socket.addEventListener("close", function () {
      stream.dataset.wsState = "closed";
      resyncUnfinished(stream);
      const delay = Math.min(10000, 500 * Math.pow(2, attempt));
      window.setTimeout(function () { connect(stream, attempt + 1); }, delay);
    });
  }

  function start() {
    document.querySelectorAll("[data-job-stream]").forEach(function (stream) {
      connect(stream, 0);
    });
    ["htmx:afterSwap", "htmx:afterSettle"].forEach(function (name) {
      document.body.addEventListener(name, function () {
        Array.from(waiting.keys()).forEach(function (jobId) {
          const panel = panelOf(jobId);
          if (panel) replayWaiting(panel);
        });
      });
    });
  }

  window.jupiterJobs = { resync: resync };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
