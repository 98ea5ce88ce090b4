import { liveEvents } from "../front/live.js";

liveEvents.addEventListener("run.status", ({ detail }) => {
  const row = document.querySelector(`#runs-table tr[data-run="${detail.run}"]`);
  if (!row) return;
  const pill = row.querySelector("[data-status]");
  pill.className = `pill pill--${detail.status}`;
  pill.textContent = detail.status[0].toUpperCase() + detail.status.slice(1);
  if (detail.best_accuracy != null) row.querySelector("[data-accuracy]").textContent = `${Math.round(detail.best_accuracy * 100)}%`;
});
