// The page's one websocket: reconnects on its own and re-dispatches every server event on `liveEvents`.
export const liveEvents = new EventTarget();
let connected = false;

export function isConnected() {
  return connected;
}

function setIndicator(state, title) {
  for (const dot of document.querySelectorAll("[data-live-indicator]")) {
    dot.className = `live-dot live-dot--${state}`;
    dot.title = title;
  }
}

function connect(attempt = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/events/`);
  socket.addEventListener("open", () => {
    attempt = 0;
    connected = true;
    setIndicator("ok", "Live updates: connected");
    liveEvents.dispatchEvent(new Event("open"));
  });
  socket.addEventListener("message", (message) => {
    const payload = JSON.parse(message.data);
    liveEvents.dispatchEvent(new CustomEvent(payload.type, { detail: payload }));
  });
  socket.addEventListener("close", () => {
    connected = false;
    setIndicator("bad", "Live updates: reconnecting…");
    liveEvents.dispatchEvent(new Event("close"));
    // Back off up to 10 s so a restarting server is not hammered, but a short blip heals within a second.
    const delay = Math.min(10000, 500 * 2 ** attempt);
    setTimeout(() => connect(attempt + 1), delay);
  });
}

connect();
