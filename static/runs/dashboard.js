// The run page: rebuilt from the run's stored events, kept live over the websocket, catching up after gaps.
// A shared page uses it too: `data-api` is then the share link's API and, with no `data-live`, no socket opens.
import { csrfToken } from "../front/csrf.js";
import { formatDuration } from "../front/duration.js";

const root = document.getElementById("run");
const runId = Number(root.dataset.run);
const api = root.dataset.api;
const $ = (id) => document.getElementById(id);
const PLOT_CONFIG = { displayModeBar: false, responsive: true };
const PLOT_LAYOUT = { margin: { t: 10, r: 10, b: 40, l: 50 }, font: { family: "system-ui, sans-serif", size: 12 },
  paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" };

// openDetails: the candidates whose settings someone unfolded, kept unfolded as the table is drawn again.
const state = { lastSeq: 0, trials: new Map(), history: [], bests: [], current: null, final: null, log: [], done: false, supernet: null, openDetails: new Set() };
let fetching = null;

const pct = (x) => (x == null ? "–" : `${(100 * x).toFixed(1)}%`);
const fmtParams = (n) => (n == null ? "–" : n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)} k` : `${n}`);

function trial(id) {
  if (!state.trials.has(id)) state.trials.set(id, { id, status: "running", curve: [], epochs: 0 });
  return state.trials.get(id);
}

function apply(event) {
  const t = event.trial_id != null ? trial(event.trial_id) : null;
  switch (event.type) {
    case "run_started":
      addLog(event, `Search started on ${event.device} with ${event.dataset.num_images} images, ${event.dataset.num_classes} classes${event.resumed ? " (resumed after an interruption)" : ""}.`);
      $("run-device").textContent = `· on ${event.device}`;
      break;
    case "supernet_progress":
      state.supernet = event;
      if (event.finished) addLog(event, `The supernet stopped after ${event.step} of ${event.total_steps} steps: ${event.reason}.`);
      else if (event.step <= 10) addLog(event, "Training the supernet that holds every candidate, to learn which choices help.");
      break;
    case "trial_started":
      // Runs from before candidates had plain names show their settings in the name's place.
      Object.assign(t, { name: event.name || event.genotype_summary, summary: event.genotype_summary, params: event.params, latency: event.latency_ms, size: event.size_mb,
        planned: event.epochs, status: "running", started: event.elapsed_seconds, worker: event.worker });
      state.current = t.id;
      addLog(event, `Candidate ${t.id}, ${t.name}: ${event.genotype_summary}${event.resumed_from_epoch ? ` (continues at epoch ${event.resumed_from_epoch + 1})` : ""}.`);
      break;
    case "epoch_finished":
      if (event.phase === "final") {
        state.final.curve.push(event);
        state.final.planned = event.total_epochs;
        // The final training plans its epochs again from its own speed: the log says so where the count changed.
        if (event.epoch === event.total_epochs && event.total_epochs !== state.final.firstPlanned) {
          const change = event.total_epochs > state.final.firstPlanned ? "lengthened" : "shortened";
          addLog(event, `Final training done after ${event.total_epochs} epochs: ${change} from the ${state.final.firstPlanned} first planned, to fit the time left at the speed it measured.`);
        }
        if (state.final.recipeOnly) Object.assign(t, { epochs: event.epoch, planned: event.total_epochs });
        break;
      }
      t.curve.push(event);
      // A schedule fitted to the time left changes its length: the epoch says the current plan.
      Object.assign(t, { epochs: event.epoch, planned: event.total_epochs, accuracy: event.val_accuracy });
      state.current = t.id;
      break;
    case "trial_finished":
      Object.assign(t, { status: "finished", accuracy: event.val_accuracy, cv: event.cv_accuracy, seconds: event.seconds, epochs: event.epochs });
      if (event.val_accuracy == null) {
        // The recipe trained alone on every training image: nothing held out, the test images will grade it.
        addLog(event, `Candidate ${t.id} finished training.`);
        break;
      }
      state.history.push({ x: event.elapsed_seconds, y: event.val_accuracy, id: t.id });
      addLog(event, `Candidate ${t.id} finished: ${pct(event.val_accuracy)} on validation images${event.cv_accuracy != null ? `, ${pct(event.cv_accuracy)} cross-validated over every image the test does not keep` : ""}.`);
      break;
    case "trial_pruned":
      Object.assign(t, { status: event.infeasible ? "skipped" : "stopped early", accuracy: event.val_accuracy, seconds: event.seconds, epochs: event.epochs });
      if (event.val_accuracy != null) state.history.push({ x: event.elapsed_seconds, y: event.val_accuracy, id: t.id });
      addLog(event, `Candidate ${t.id} ${event.infeasible ? "skipped" : "stopped"}: ${event.reason}.`);
      break;
    case "trial_failed":
      Object.assign(t, { status: "failed", seconds: event.seconds });
      addLog(event, `Candidate ${t.id} failed: ${event.reason}`);
      break;
    case "new_best":
      state.best = event.trial_id;
      state.bests.push({ x: event.elapsed_seconds, y: event.val_accuracy });
      addLog(event, `New best: candidate ${event.trial_id} with ${pct(event.val_accuracy)}${event.cv_accuracy != null ? ` (${pct(event.cv_accuracy)} cross-validated)` : ""}.`);
      break;
    case "final_training_started":
      if (event.retrain) state.final = { id: event.trial_id, name: event.name ?? "", planned: event.epochs, firstPlanned: event.epochs, curve: [], recipeOnly: event.recipe_only };
      addLog(event, event.retrain ? `Final model from candidate ${event.trial_id}: ${event.reason}.` : `Keeping candidate ${event.trial_id} as the final model: ${event.reason}.`);
      break;
    case "run_finished":
      state.done = true;
      addLog(event, `Done: ${pct(event.test_accuracy)} on test images it never saw.`);
      showEnd(event.elapsed_seconds);
      return;
  }
  if (event.progress != null) showProgress(event.progress, event.eta_seconds);
  if (event.memory_mb != null) {
    const gpu = event.gpu_memory_mb != null ? `, GPU ${event.gpu_memory_mb} MB` : "";
    $("run-memory").textContent = `· peak memory ${event.memory_mb} MB${gpu}`;
  }
}

function addLog(event, text) {
  state.log.push(`[${formatDuration(event.elapsed_seconds ?? 0)}] ${text}`);
}

// A run may end before its budget (stopped, or out of candidates): the time it took, of the budget it had.
function showEnd(elapsed) {
  const budget = Number(root.dataset.budgetSeconds);
  $("run-bar").style.width = `${Math.min(100, 100 * elapsed / budget)}%`;
  $("run-progress").textContent = `Ended after ${formatDuration(elapsed)} of its ${formatDuration(budget)} budget`;
  $("run-eta").textContent = "";
}

function showProgress(progress, eta) {
  $("run-bar").style.width = `${Math.min(100, 100 * progress)}%`;
  $("run-progress").textContent = `${Math.round(100 * progress)}% of the budget used`;
  // A run waiting for a worker is not counting down: its last ETA would freeze on the page.
  const counting = root.dataset.status === "running" && !("waiting" in root.dataset);
  $("run-eta").textContent = counting && eta ? `· about ${formatDuration(eta)} left` : "";
}

function render() {
  // Only finished candidates are ranked, best first: one stopped after an epoch or still training was scored on
  // less training, and on few validation images a lucky early score would outrank the kept model. As the search
  // decides (leaderboard.Standing): validation accuracy; among ties, a cross-validated accuracy above none; then the
  // lower validation loss. The others follow in the order they started.
  const ranked = (t) => t.status === "finished" && t.accuracy != null;
  const loss = (t) => t.curve.at(-1)?.val_loss ?? Infinity;
  const versus = (a, b) => b.accuracy - a.accuracy || (b.cv ?? -Infinity) - (a.cv ?? -Infinity) || loss(a) - loss(b);
  const rows = [...state.trials.values()].sort((a, b) => ranked(b) - ranked(a)
    || (ranked(a) ? versus(a, b) : 0) || a.id - b.id);
  // Which worker trained each candidate matters once several train at once: a line under its status (host:pid).
  const workers = new Set(rows.map((t) => t.worker).filter(Boolean));
  const workersNote = $("run-workers");
  if (workersNote && workers.size) workersNote.textContent = `· ${workers.size} of up to ${workersNote.dataset.max} workers training`;
  const body = $("leaderboard").tBodies[0];
  body.replaceChildren(...rows.map((t, rank) => {
    const row = document.createElement("tr");
    if (t.id === state.best) row.className = "is-best";
    const cells = [t.id, ranked(t) ? rank + 1 : "–", pct(t.accuracy), t.size != null ? `${t.size.toFixed(2)} MB` : "–",
      t.latency != null ? `${t.latency.toFixed(2)} ms` : "–", t.planned ? `${t.epochs}/${t.planned}` : t.epochs,
      t.status, t.seconds != null ? formatDuration(t.seconds) : "…", t.name ?? ""];
    for (const [i, value] of cells.entries()) {
      const cell = document.createElement("td");
      cell.textContent = value;
      if ([2, 3, 4, 5, 7].includes(i)) cell.className = "num";
      if (i === 8) cell.className = "network";
      if (i === 8 && t.summary && t.summary !== t.name) {
        // The settings behind the name, for those who want them.
        const details = Object.assign(document.createElement("details"), { className: "cell-details", open: state.openDetails.has(t.id) });
        details.addEventListener("toggle", () => { if (details.open) state.openDetails.add(t.id); else state.openDetails.delete(t.id); });
        details.append(Object.assign(document.createElement("summary"), { textContent: "Details" }),
          Object.assign(document.createElement("span"), { className: "genotype", textContent: t.summary }));
        cell.append(details);
      }
      if (i === 2 && t.cv != null) cell.append(Object.assign(document.createElement("span"), { className: "cell-note", textContent: `${pct(t.cv)} cross-validated` }));
      if (i === 6 && workers.size > 1 && t.worker) {
        cell.append(Object.assign(document.createElement("span"), { className: "cell-note", textContent: `on ${t.worker.split(":").slice(0, 2).join(":")}` }));
      }
      row.append(cell);
    }
    return row;
  }));
  $("log").replaceChildren(...state.log.slice(-200).reverse().map((line) => Object.assign(document.createElement("li"), { textContent: line })));
  $("history-note").hidden = !state.final?.recipeOnly;
  if (!window.Plotly) return;
  renderSupernet();
  // The best so far is the candidate the run would keep (its new_best events), not the highest score seen.
  const lastX = Math.max(0, ...state.history.map((p) => p.x));
  const bests = state.bests.length ? [...state.bests, { x: Math.max(lastX, state.bests.at(-1).x), y: state.bests.at(-1).y }] : [];
  // Minutes read well from a few minutes on; a shorter run counts in seconds, not in "0.05 minutes".
  const [unit, per] = Number(root.dataset.budgetSeconds) < 300 ? ["seconds", 1] : ["minutes", 60];
  Plotly.react("chart-history", [
    { x: state.history.map((p) => p.x / per), y: state.history.map((p) => 100 * p.y), mode: "markers", name: "candidate",
      text: state.history.map((p) => `candidate ${p.id}`), marker: { color: "#4f46e5", size: 8, opacity: 0.7 } },
    { x: bests.map((p) => p.x / per), y: bests.map((p) => 100 * p.y), mode: "lines", name: "best so far", line: { shape: "hv", color: "#15803d", width: 2 } },
  ], { ...PLOT_LAYOUT, xaxis: { title: { text: unit }, rangemode: "tozero" }, yaxis: { title: { text: "accuracy %" }, range: [0, 101] }, legend: { orientation: "h", y: 1.1 } }, PLOT_CONFIG);
  // The final training has no validation images (they are trained on), so it shows training accuracy alone.
  const current = state.final ?? state.trials.get(state.current);
  if (current) {
    const epochs = current.curve.length;
    $("current-trial-heading").textContent = state.done ? "Last training" : "Training now";
    $("current-trial").textContent = current === state.final
      ? `Final model (candidate ${current.id}${current.name && `, ${current.name}`}), epoch ${epochs} of ${current.planned} on all training images`
      : `Candidate ${current.id}: ${current.name ?? ""}`;
    const curves = [{ x: current.curve.map((e) => e.epoch), y: current.curve.map((e) => 100 * e.train_accuracy), name: "training", mode: "lines+markers", line: { color: "#94a3b8" } }];
    if (current !== state.final) {
      curves.push({ x: current.curve.map((e) => e.epoch), y: current.curve.map((e) => 100 * (e.val_accuracy ?? 0)), name: "validation", mode: "lines+markers", line: { color: "#4f46e5" } });
    }
    Plotly.react("chart-curve", curves, { ...PLOT_LAYOUT, xaxis: { title: { text: "epoch" }, rangemode: "tozero" }, yaxis: { title: { text: "accuracy %" }, range: [0, 101] }, legend: { orientation: "h", y: 1.2 } }, PLOT_CONFIG);
  }
  // Every candidate with a measured accuracy, stopped early or not: the trade-off is visible from the first minutes.
  const done = rows.filter((t) => t.accuracy != null && t.latency != null);
  Plotly.react("chart-pareto", [{ x: done.map((t) => t.latency), y: done.map((t) => 100 * t.accuracy), mode: "markers",
    text: done.map((t) => `candidate ${t.id} · ${fmtParams(t.params)} params`), marker: { size: done.map((t) => 6 + Math.log10(1 + (t.params ?? 1))), color: "#0ea5e9" } }],
  { ...PLOT_LAYOUT, xaxis: { title: { text: "CPU latency per image (ms)" }, type: "log", dtick: 1, range: decades(done.map((t) => t.latency)) }, yaxis: { title: { text: "accuracy %" }, range: [0, 101] } }, PLOT_CONFIG);
}

// A log axis's range in whole decades around the values (0.1 to 100 ms before there are any): at one tick a decade,
// a range inside one decade would show no labelled tick at all.
function decades(values) {
  if (!values.length) return [-1, 2];
  const low = Math.floor(Math.log10(Math.min(...values)));
  return [low, Math.max(low + 1, Math.ceil(Math.log10(Math.max(...values))))];
}

// The one-shot strategy's architecture weights: one small bar chart per decision, redrawn as they move.
function renderSupernet() {
  const supernet = state.supernet;
  if (!supernet) return;
  $("supernet").hidden = false;
  $("supernet-status").textContent = `Step ${supernet.step} of ${supernet.total_steps} · undecided ${Math.round(100 * supernet.entropy)}%`
    + (supernet.finished ? ` · stopped: ${supernet.reason}` : "");
  const container = $("supernet-decisions");
  for (const decision of supernet.decisions.filter((d) => d.options.length > 1)) {
    const id = `supernet-${decision.name}`;
    if (!document.getElementById(id)) container.append(Object.assign(document.createElement("div"), { id, className: "chart chart--decision" }));
    Plotly.react(id, [{ type: "bar", x: decision.options, y: decision.probabilities.map((p) => 100 * p), marker: { color: "#4f46e5" } }],
      { ...PLOT_LAYOUT, margin: { t: 30, r: 10, b: 50, l: 40 }, title: { text: decision.label, font: { size: 12 } }, xaxis: { type: "category" }, yaxis: { title: { text: "%" }, range: [0, 100] } }, PLOT_CONFIG);
  }
}

async function catchUp() {
  // One catch-up at a time; events are idempotent by seq, so overlapping pushes are simply skipped.
  fetching ??= (async () => {
    for (;;) {
      const response = await fetch(`${api}events/?after=${state.lastSeq}`);
      if (!response.ok) break;
      const events = await response.json();
      for (const stored of events) {
        if (stored.seq <= state.lastSeq) continue;
        apply(stored.payload);
        state.lastSeq = stored.seq;
      }
      if (events.length < 1000) break;
    }
    render();
  })().finally(() => (fetching = null));
  return fetching;
}

function follow(liveEvents) {
  liveEvents.addEventListener("run.event", ({ detail }) => {
    if (detail.run !== runId || detail.seq <= state.lastSeq) return;
    if (detail.seq === state.lastSeq + 1 && !fetching) {
      apply(detail.event);
      state.lastSeq = detail.seq;
      render();
    } else {
      catchUp();
    }
  });
  liveEvents.addEventListener("open", () => catchUp());
  liveEvents.addEventListener("run.status", ({ detail }) => {
    if (detail.run !== runId) return;
    if (detail.status !== root.dataset.status && !["queued", "running"].includes(detail.status)) location.reload();
    root.dataset.status = detail.status;
    if (detail.status === "running") {  // a worker took it (again)
      delete root.dataset.waiting;
      $("run-waiting")?.remove();
    }
    const pill = $("run-status");
    pill.className = `pill pill--${detail.status}`;
    if (!("stopping" in (controls?.dataset ?? {}))) pill.textContent = detail.status[0].toUpperCase() + detail.status.slice(1);
  });
}

async function post(url, body) {
  const response = await fetch(url, { method: "POST", headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}) });
  const payload = await response.json();
  if (!response.ok) alert(payload.detail ?? Object.values(payload).flat().join(" "));
  return payload;
}

const controls = $("run-controls");

// What a click can still do: nothing once a stop is asked; an extension only within the run's limit.
function showControls() {
  if (!controls) return;
  const stopping = "stopping" in controls.dataset;
  const room = Number(controls.dataset.extensionLimit) - Number(controls.dataset.budget);
  for (const button of controls.querySelectorAll("button")) {
    button.disabled = stopping || ("extend" in button.dataset && Number(button.dataset.extend) > room);
  }
}

$("cancel-button")?.addEventListener("click", async () => {
  if (!confirm("Stop the search now? The best model found so far is kept.")) return;
  // At once: the search stops between batches, seconds later.
  controls.dataset.stopping = "";
  $("run-status").textContent = "Stopping…";
  showControls();
  const payload = await post(`${api}cancel/`);
  if (payload.status === undefined) {  // refused: the alert said why
    delete controls.dataset.stopping;
    showControls();
  }
});
$("retry-button")?.addEventListener("click", async () => {
  if ((await post(`${api}retry/`)).status === "queued") location.reload();
});
for (const button of document.querySelectorAll("[data-extend]")) {
  button.addEventListener("click", async () => {
    const payload = await post(`${api}extend/`, { seconds: Number(button.dataset.extend) });
    // Answers to two quick clicks may arrive in either order; a budget only grows, and the name (which says the
    // budget, unless the user named the run) is the largest budget's.
    if (payload.budget_seconds !== undefined && payload.budget_seconds >= Number(controls.dataset.budget)) {
      controls.dataset.budget = payload.budget_seconds;
      const heading = $("run-name");
      document.title = document.title.replace(heading.textContent, payload.name);
      heading.textContent = payload.name;
    }
    showControls();
  });
}
showControls();

if ("live" in root.dataset) import("../front/live.js").then(({ liveEvents }) => follow(liveEvents));
catchUp();
if (!["queued", "running"].includes(root.dataset.status)) {
  import("./result.js").then(({ showResult }) => showResult(api));
}
