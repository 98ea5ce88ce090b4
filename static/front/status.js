import { isConnected, liveEvents } from "./live.js";
import { csrfToken } from "./csrf.js";

const card = document.getElementById("system-status");

function show(check, state, detail) {
  const row = card.querySelector(`[data-check="${check}"]`);
  row.querySelector(".status-dot").className = `status-dot status-dot--${state}`;
  row.querySelector(".status-detail").textContent = detail;
}

let pendingToken = null;

async function pingWorker() {
  show("worker", "wait", "asking a worker…");
  // The token is made here, before asking: the answer may come over the websocket before the POST returns.
  const token = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  pendingToken = token;
  const response = await fetch("/api/worker/ping/", {
    method: "POST",
    headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  if (!response.ok) {
    show("worker", "bad", `could not ask (${response.status})`);
    return;
  }
  setTimeout(() => {
    if (pendingToken === token) show("worker", "bad", "no answer: is a worker running?");
  }, 15000);
}

liveEvents.addEventListener("worker.pong", (event) => {
  if (event.detail.token !== pendingToken) return;
  pendingToken = null;
  show("worker", "ok", `ready on ${event.detail.device}`);
});
liveEvents.addEventListener("open", () => {
  show("live", "ok", "connected");
  pingWorker();
});
liveEvents.addEventListener("close", () => show("live", "bad", "reconnecting…"));
if (isConnected()) {
  show("live", "ok", "connected");
  pingWorker();
}
