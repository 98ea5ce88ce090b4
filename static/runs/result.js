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

function words(accuracy, tested) {
  return [`Right ${timesOutOf100(accuracy)} times out of 100 on images it never saw.`,
    `Measured once, at the end, on ${tested} images that were kept away from the search.`];
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
  const sentence = element("p", { className: "muted", textContent: `Weakest class: it finds ${timesOutOf100(weakest.recall)} of every 100 “${weakest.name}” images, and when it says “${weakest.name}” it is right ${timesOutOf100(weakest.precision)} times out of 100.` });
  return element("div", {}, element("div", { className: "table-scroll" }, element("table", { className: "table table--wrap-head" }, head, element("tbody", {}, ...rows))), sentence);
}

function architecture(genotype, inputShape) {
  const boxes = [["Input", inputShape ? `${inputShape[0]}×${inputShape[1]}×${inputShape[2]}` : "image"]];
  boxes.push(["Stem", `conv ${genotype.stem ?? ""}`]);
  genotype.stages.forEach((stage, i) => {
    const block = stage.block === "mbconv" ? `MBConv ×${stage.expand}` : stage.block;
    boxes.push([`Stage ${i + 1}`, `${stage.depth} × ${block}, ${stage.width} ch, ${stage.kernel}×${stage.kernel}${stage.se ? ", SE" : ""}`]);
  });
  boxes.push(["Head", `pool → dropout ${genotype.train?.dropout ?? genotype.dropout ?? 0} → classes`]);
  return boxes.map(([title, detail]) => element("div", { className: "arch__box" }, element("strong", { textContent: title }), element("span", { textContent: detail })));
}

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
  const tested = report.per_class.reduce((sum, row) => sum + row.support, 0);
  const [headline, sub] = words(report.accuracy, tested);
  $("result").hidden = false;
  $("result-words").textContent = headline;
  $("result-sub").textContent = sub;
  const best = result.best;
  $("result-stats").replaceChildren(stat(pct(report.accuracy), "test accuracy"), stat(best.params.toLocaleString(), "parameters"),
    stat(`${best.size_mb.toFixed(2)} MB`, "model size"), stat(`${best.latency_ms.toFixed(2)} ms`, "CPU latency per image"));
  if (result.baseline) {
    const simple = timesOutOf100(result.baseline.test_accuracy);
    $("result-baseline").textContent = `For comparison, a simple method (${result.baseline.method}) is right ${simple} times out of 100 on the same images.`;
  }
  const mistakes = result.misclassified ?? [];
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
  $("architecture").replaceChildren(...architecture(best.genotype, result.summary.input_shape));
  const summary = result.summary;
  const trials = Object.entries(summary.trials).map(([status, count]) => `${count} ${status}`).join(", ");
  $("search-summary").replaceChildren(...facts([
    ["Candidates", trials], ["Strategy", summary.strategy], ["Ran on", summary.device],
    ["Time", `${Math.round(summary.elapsed_seconds)} s of ${Math.round(summary.budget_seconds)} s`],
    ["Final model", summary.recipe_only ? `NASweb's proven network, trained on training + validation images for ${best.final_epochs} rounds: the budget was too short to search`
      : summary.retrained ? "retrained on training + validation images" : "the best candidate as trained"],
    ["Export check", summary.onnx_parity ? `ONNX agrees on ${pct(summary.onnx_parity.agreement ?? 1)} of test images` : "–"],
  ]));
  $("downloads")?.replaceChildren(...run.artifacts.filter((kind) => DOWNLOADS[kind]).map((kind) => element("li", {},
    element("a", { href: `${api}artifacts/${kind}/`, textContent: DOWNLOADS[kind][0] }),
    element("span", { className: "muted small", textContent: ` ${DOWNLOADS[kind][1]}` }))));
  if ($("try-form")) setUpTryIt(api);
}

function setUpTryIt(api) {
  const form = $("try-form");
  const input = $("try-image");
  input.addEventListener("change", () => {
    const file = input.files[0];
    if (!file) return;
    $("try-preview").src = URL.createObjectURL(file);
    $("try-preview").hidden = false;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.files[0]) return;
    const body = new FormData();
    body.append("image", input.files[0]);
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
