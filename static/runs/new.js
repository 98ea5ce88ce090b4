// A rough, honest estimate of what a budget buys, from the dataset's size and resolution.
const form = document.getElementById("run-form");
const PRESET_SECONDS = { quick: 300, standard: 1800, thorough: 7200 };
// Training throughput measured on a 2-core CPU for the space's mid-sized networks (see docs/benchmarks.md),
// in images per second at 32x32, scaled by pixel count; a GPU worker is far faster, so this is the floor.
const CPU_IMAGES_PER_SECOND_AT_32 = 900;
const AVERAGE_EPOCHS = 6; // multi-fidelity stops most candidates after a few epochs
const SEARCH_SHARE = 0.65; // the rest goes to retraining the winner on more data, testing and export

function estimate() {
  document.getElementById("custom-limits").hidden = form.elements.target.value !== "custom";
  const fields = form.elements;
  const option = fields.namedItem("dataset").selectedOptions[0];
  const budget = fields.budget.value === "custom" ? Number(fields.custom_minutes.value) * 60 : PRESET_SECONDS[fields.budget.value];
  const candidates = document.getElementById("estimate-candidates");
  const text = document.getElementById("estimate-text");
  if (!option || !budget) {
    candidates.textContent = "–";
    return;
  }
  const images = Number(option.dataset.images) * 0.7;
  const side = Number(option.dataset.side);
  const perSecond = CPU_IMAGES_PER_SECOND_AT_32 * (32 * 32) / (side * side);
  const secondsPerCandidate = 2 + (images * AVERAGE_EPOCHS) / perSecond;
  const count = Math.max(1, Math.floor((budget * SEARCH_SHARE) / secondsPerCandidate));
  candidates.textContent = `about ${count} candidate network${count === 1 ? "" : "s"}`;
  const minutes = Math.round(budget / 60);
  text.textContent = `on a CPU worker, in ${minutes} minute${minutes === 1 ? "" : "s"} in all; a GPU worker tries many more. The search stops on time and always leaves a trained model.`;
}

if (form) {
  form.addEventListener("input", estimate);
  estimate();
}
