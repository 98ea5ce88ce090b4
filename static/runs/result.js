// The result of a finished (or stopped) run, in plain words first, details after.
import { csrfToken } from "../front/csrf.js";

const $ = (id) => document.getElementById(id);
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const DOWNLOADS = {
  bundle: ["Ready-to-run bundle (.zip)", "model, labels, predict.py and a model card"],
  onnx: ["ONNX model", "for onnxruntime, phones and most runtimes"],
  torchscript: ["TorchScript model", "for PyTorch and LibTorch (C++)"],
  weights: ["PyTorch weights", "a plain state dict; rebuild with the genotype"],
  genotype: ["Architecture (JSON)", "the network and training recipe found"],
};

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function timesOutOf100(accuracy) {
  // Never round a model with mistakes up to "100 out of 100".
  return accuracy < 1 ? Math.min(99, Math.round(100 * accuracy)) : 100;
}

// Past this many points either way, the test split is too small to tell good from mediocre.
const TOO_UNSURE_POINTS = 5;

// `report`: the result's test_report, with the 95% interval of its accuracy; `crossValidation`: the estimate the
// search chose the network by on small data (BestModel.cross_validation), or null.
function words(report, crossValidation) {
  const giveOrTake = Math.round(50 * (report.accuracy_high - report.accuracy_low));
  const unsure = giveOrTake > TOO_UNSURE_POINTS ? " — too few to be sure" : "";
  const right = timesOutOf100(report.accuracy);
  const [low, high] = [Math.round(100 * report.accuracy_low), Math.round(100 * report.accuracy_high)];
  // Near 100 the interval is lopsided: "give or take 5" would read as up to 105.
  const headline = right + giveOrTake > 100
    ? `Right ${right} times out of 100 on ${report.images} images it never saw: on images like these, at least ${low}${unsure}.`
    : `Right ${right} times out of 100, give or take ${giveOrTake}, on ${report.images} images it never saw${unsure}.`;
  const second = crossValidation ? ` A second estimate, from all ${crossValidation.images} other images: right ${timesOutOf100(crossValidation.accuracy)} times out of 100 (${crossValidation.folds}-fold cross-validation, which chose this network; each image scored by a copy that had not learned from it).` : "";
  return [headline, `Measured once, at the end, on images kept away from the search; 95 times out of 100 the true figure lies between ${low} and ${high}.${second}`];
}

// The most a "run again" link asks for: the longest budget a run may have (apps.runs.budgets.MAX_BUDGET_SECONDS).
const MAX_RUN_MINUTES = 24 * 60;

// When the simple method beats the network on the test images, that comes first, with what to do about it: a
// longer search (three times this run's budget), from a page of the run's own team.
function baselineWins(report, baseline, run) {
  const right = (accuracy) => Math.round(accuracy * report.images);
  const ahead = right(baseline.test_accuracy) - right(report.accuracy);
  if (ahead <= 0) return null;
  const chance = ahead === 1 ? " By a single image, which may be chance." : "";
  const children = [element("strong", { textContent: "A simple method did better than this network." }),
    element("p", { textContent: `On the same ${report.images} test images, ${baseline.method} got ${ahead} more right (${timesOutOf100(baseline.test_accuracy)} times out of 100 against ${timesOutOf100(report.accuracy)}).${chance} With more time the search trains its candidates longer and tries more of them.` })];
  if (run.dataset != null) {
    const minutes = Math.min(MAX_RUN_MINUTES, Math.ceil(3 * run.budget_seconds / 60));
    children.push(element("p", {}, element("a", { className: "button", href: `/runs/new/?dataset=${run.dataset}&minutes=${minutes}`, textContent: `Run again with ${minutes} minutes` })));
  }
  return children;
}

function stat(value, label) {
  return element("div", { className: "stat" }, element("span", { className: "stat__value", textContent: value }),
    element("span", { className: "stat__label", textContent: label }));
}

function perClassTable(report) {
  const rows = report.per_class.map((row) => element("tr", {},
    element("td", { textContent: row.name }),
    element("td", { className: "num", textContent: pct(row.recall) }),
    element("td", { className: "num", textContent: pct(row.precision) }),
    element("td", { className: "num", textContent: row.f1.toFixed(2) }),
    element("td", { className: "num", textContent: row.support })));
  const head = element("thead", {}, element("tr", {}, ...["Class", "Finds (recall)", "Right when it says so (precision)", "F1", "Test images"].map((h, i) => element("th", { textContent: h, className: i ? "num" : "" }))));
  const weakest = report.per_class.reduce((a, b) => (b.f1 < a.f1 ? b : a));
  const sentence = element("p", { className: "muted", textContent: weakest.f1 === 1
    ? "Every class was recognised without a mistake on the test images."
    : `Weakest class: it finds ${timesOutOf100(weakest.recall)} of every 100 “${weakest.name}” images, and when it says “${weakest.name}” it is right ${timesOutOf100(weakest.precision)} times out of 100.` });
  return element("div", {}, element("div", { className: "table-scroll" }, element("table", { className: "table table--wrap-head" }, head, element("tbody", {}, ...rows))), sentence);
}

// A pretrained network's stages (apps.nas.backbones.BACKBONE_STAGES): its stem, seven stages of blocks, its head
// convolution. A genotype's `finetune` counts how many of the last ones learned.
const BACKBONE_STAGES = 9;
const short = (x) => Number(x.toFixed(2));

// The engine's names people read for its pretrained networks (apps.nas.names.BACKBONE_NAMES), given by the page.
function backboneName(pretrained) {
  return JSON.parse($("backbone-names").textContent)[pretrained.backbone] ?? pretrained.backbone;
}

// One sentence on where the network came from: which pretrained network and how it was adapted, or from scratch.
function originWords(genotype, summary) {
  if ("backbone" in genotype) return pretrainedOriginWords(genotype);
  return summary.recipe_only ? "This is NASweb's proven network, trained from scratch on your images."
    : "NASweb designed this network for your images and trained it from scratch.";
}

// How much of a pretrained network learned on the user's images: [for a sentence, for the diagram].
function adaptation(stages) {
  if (!stages) return ["kept it as it is", "frozen (its features are used as they are)"];
  if (stages >= BACKBONE_STAGES) return ["fine-tuned all of it", "fine-tuned throughout"];
  return [`fine-tuned its last ${stages} of ${BACKBONE_STAGES} stages`, `last ${stages} of ${BACKBONE_STAGES} stages fine-tuned`];
}

function pretrainedOriginWords(pretrained) {
  const [adapted] = adaptation(pretrained.finetune);
  const head = pretrained.head_hidden ? `a new classifier with ${pretrained.head_hidden} hidden units` : "a new linear classifier";
  return `NASweb started from ${backboneName(pretrained)}, a network pretrained on 1.2 million photos (ImageNet), ${adapted} and trained ${head} on your images.`;
}

// `inputShape`: [channels, height, width] the model takes.
function architecture(genotype, inputShape) {
  const [channels, height, width] = inputShape;
  const input = ["Input", `${width} × ${height} px, ${channels === 1 ? "grayscale" : "colour"}`];
  const boxes = [input, ...("backbone" in genotype ? pretrainedBoxes(genotype, height, width) : fromScratchBoxes(genotype))];
  return boxes.map(([title, detail]) => element("div", { className: "arch__box" }, element("strong", { textContent: title }), element("span", { textContent: detail })));
}

function fromScratchBoxes(genotype) {
  const boxes = [["Stem", `3×3 conv, ${genotype.stem_width} ch`]];
  genotype.stages.forEach((stage, i) => {
    const block = stage.block === "mbconv" ? `MBConv ×${stage.expand}` : stage.block;
    boxes.push([`Stage ${i + 1}`, `${stage.depth} × ${block}, ${stage.width} ch, ${stage.kernel}×${stage.kernel}${stage.se ? ", SE" : ""}`]);
  });
  boxes.push(["Head", `pool → dropout ${short(genotype.train.dropout)} → classes`]);
  return boxes;
}

function pretrainedBoxes(pretrained, height, width) {
  const side = pretrained.side;
  const [, adapted] = adaptation(pretrained.finetune);
  const dropout = `dropout ${short(pretrained.train.dropout)}`;
  return [
    ...(side === height && side === width ? [] : [["Resized", `to ${side} × ${side} px`]]),
    [backboneName(pretrained), `pretrained on ImageNet — ${adapted}`],
    ["Head", pretrained.head_hidden ? `MLP, ${pretrained.head_hidden} hidden units → ${dropout} → classes`
      : `${dropout} → linear classifier → classes`],
  ];
}

// What a strategy's start points are (apps.nas.strategies.base.Strategy.origin), in words.
const START_POINTS = {
  probe: ["a pretrained network's features as they are, with a new classifier", "pretrained network with a new classifier"],
  recipe: ["NASweb's proven network, trained from scratch", "proven network"],
  finetune: ["a pretrained network with its last stages fine-tuned", "fine-tuned pretrained network"],
  supernet: ["NASweb's proven network, changed wherever its shared-weight supernet had made up its mind",
    "proven network, as the supernet changed it"],
};

function outcome(row) {
  const accuracy = row.val_accuracy === null ? "" : pct(row.val_accuracy);
  const folds = row.cross_validation;
  if (row.status === "complete") return `${accuracy} on validation${folds ? `, ${pct(folds.accuracy)} in ${folds.folds}-fold cross-validation` : ""}`;
  if (row.status === "pruned") return `stopped early at ${accuracy}`;
  if (row.status === "interrupted") return `stopped by the clock${accuracy && ` at ${accuracy}`}`;
  if (row.status === "infeasible") return "skipped: it breaks a limit or was too slow";
  return "failed";
}

// What the search did, in order: the start points it tried first, what it chose itself, and which one it kept.
function searchStory(result) {
  if (result.summary.recipe_only) return "";
  const rows = [...result.leaderboard].sort((a, b) => a.id - b.id);
  const starts = rows.filter((row) => row.origin in START_POINTS);
  const own = rows.filter((row) => !(row.origin in START_POINTS));
  const sentences = [];
  if (starts.length) sentences.push(`It first tried ${starts.map((row) => `${START_POINTS[row.origin][0]} (${outcome(row)})`).join(", then ")}.`);
  if (own.length) {
    const stopped = own.filter((row) => row.status === "pruned").length;
    const scores = own.filter((row) => row.status === "complete").map((row) => row.val_accuracy);
    sentences.push(`${starts.length ? "Then it" : "It"} tried ${own.length} candidate${own.length > 1 ? "s" : ""} of its own choosing`
      + (stopped ? `, ${stopped} of them stopped early to save time` : "")
      + (scores.length ? `; the best fully trained one reached ${pct(Math.max(...scores))} on validation.` : "."));
  }
  const kept = rows.find((row) => row.id === result.best.trial_id);
  if (kept) sentences.push(`It kept the ${kept.origin in START_POINTS ? START_POINTS[kept.origin][1] : "best of the candidates it chose itself"}.`);
  return sentences.join(" ");
}

// A leaderboard status (apps.nas.leaderboard.STATUS_ORDER), as the summary counts it.
const CANDIDATE_OUTCOMES = { complete: "fully trained", pruned: "stopped early to save time",
  interrupted: "stopped by the clock", infeasible: "skipped", failed: "failed", running: "unfinished" };

function facts(list) {
  return list.flatMap(([term, value]) => [element("dt", { textContent: term }), element("dd", { textContent: value })]);
}

// `api`: the run's API, /api/runs/ID/ for the team or /api/shared/TOKEN/ for a share link.
export async function showResult(api) {
  const [resultResponse, runResponse] = await Promise.all([fetch(`${api}result/`), fetch(api)]);
  if (!resultResponse.ok) return;
  const result = await resultResponse.json();
  const run = await runResponse.json();
  const report = result.test_report;
  const [headline, sub] = words(report, result.best.cross_validation);
  $("result").hidden = false;
  $("result-words").textContent = headline;
  $("result-sub").textContent = sub;
  const best = result.best;
  $("result-stats").replaceChildren(stat(pct(report.accuracy), "test accuracy"), stat(best.params.toLocaleString(), "parameters"),
    stat(`${best.size_mb.toFixed(2)} MB`, "model size"), stat(`${best.latency_ms.toFixed(2)} ms`, "CPU latency per image"));
  const baseline = result.baseline;
  const warning = baselineWins(report, baseline, run);
  $("baseline-wins").hidden = !warning;
  $("result-baseline").hidden = Boolean(warning); // the warning says it already
  if (warning) $("baseline-wins").replaceChildren(...warning);
  $("result-baseline").textContent = `For comparison, a simple method (${baseline.method}) is right ${timesOutOf100(baseline.test_accuracy)} times out of 100 on the same images.`;
  const mistakes = result.misclassified ?? []; // a share link leaves out the team's images
  $("mistakes-card").hidden = !mistakes.length;
  $("mistakes").replaceChildren(...mistakes.map((m) => element("figure", {},
    m.thumbnail_url ? element("img", { src: m.thumbnail_url, alt: m.path, loading: "lazy" }) : element("div", { className: "gallery__missing" }),
    element("figcaption", { title: m.path, textContent: `${m.true} → ${m.predicted} (${Math.round(100 * m.confidence)}%)` }))));
  $("per-class").replaceChildren(perClassTable(report));
  const names = report.per_class.map((row) => row.name);
  window.Plotly?.newPlot("confusion", [{ z: report.confusion, x: names, y: names, type: "heatmap", colorscale: [[0, "#f5f6fa"], [1, "#4f46e5"]], showscale: false,
    text: report.confusion, texttemplate: "%{text}", hovertemplate: "true %{y}, predicted %{x}: %{z}<extra></extra>" }],
  { margin: { t: 10, r: 10, b: 60, l: 80 }, xaxis: { title: { text: "predicted" } }, yaxis: { title: { text: "true" }, autorange: "reversed" } },
  { displayModeBar: false, responsive: true });
  const summary = result.summary;
  $("architecture-words").textContent = originWords(best.genotype, summary);
  $("architecture").replaceChildren(...architecture(best.genotype, summary.input_shape));
  $("search-story").textContent = searchStory(result);
  const trials = Object.entries(summary.trials).map(([status, count]) => `${count} ${CANDIDATE_OUTCOMES[status] ?? status}`).join(", ");
  const strategy = JSON.parse($("strategy-names").textContent)[summary.strategy] ?? summary.strategy;
  $("search-summary").replaceChildren(...facts([
    ["Candidates", trials], ["Strategy", strategy], ["Ran on", summary.device === "cpu" ? "the processor (CPU)" : "a graphics card (GPU)"],
    ["Time", `${Math.round(summary.elapsed_seconds)} s of ${Math.round(summary.budget_seconds)} s`],
    ["Final model", summary.recipe_only ? `NASweb's proven network, trained on training + validation images for ${best.final_epochs} rounds: the budget was too short to search`
      : summary.retrained ? "retrained on training + validation images"
      : summary.continued ? `the best candidate, trained ${best.final_epochs - best.genotype.train.epochs} more rounds on training + validation images`
      : "the best candidate as trained"],
    ["Export check", summary.onnx_parity ? `ONNX agrees with PyTorch on ${pct(summary.onnx_parity.prediction_agreement)} of ${summary.onnx_parity.images} test images` : "–"],
  ]));
  $("downloads")?.replaceChildren(...run.artifacts.filter((kind) => DOWNLOADS[kind]).map((kind) => element("li", {},
    element("a", { href: `${api}artifacts/${kind}/`, textContent: DOWNLOADS[kind][0] }),
    element("span", { className: "muted small", textContent: ` ${DOWNLOADS[kind][1]}` }))));
  if ($("try-image")) setUpTryIt(api);
}

// Choosing an image classifies it at once: one click, and another image is one more.
function setUpTryIt(api) {
  const input = $("try-image");
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    $("try-preview").src = URL.createObjectURL(file);
    $("try-preview").hidden = false;
    const body = new FormData();
    body.append("image", file);
    const response = await fetch(`${api}predict/`, { method: "POST", body, headers: { "X-CSRFToken": csrfToken() } });
    const payload = await response.json();
    const list = $("try-result");
    if (!response.ok) {
      list.replaceChildren(element("li", { className: "field-error", textContent: Object.values(payload).flat().join(" ") }));
      return;
    }
    list.replaceChildren(...payload.predictions.map((p) => element("li", {},
      element("span", { className: "predictions__label", textContent: p.label }),
      element("span", { className: "bars__track" }, element("span", { className: "bars__fill", style: `width: ${100 * p.confidence}%` })),
      element("span", { className: "predictions__value", textContent: pct(p.confidence) }))));
  });
}
