// The new-run form: image sizes for the chosen dataset, the chosen strategy's sentence, and what the budget buys,
// asked of the estimate API.
const form = document.getElementById("run-form");
const ESTIMATE_DELAY_MS = 250;
let pending;
let asked = 0; // answers to earlier questions may arrive late: only the latest is shown

function budgetSeconds(fields) {
  const chosen = form.querySelector('input[name="budget"]:checked');
  return chosen.value === "custom" ? Number(fields.custom_minutes.value) * 60 : Number(chosen.dataset.seconds);
}

// "30 seconds", "1 minute", "1.5 minutes", "2 hours".
function budgetWords(seconds) {
  const [amount, unit] = seconds < 60 ? [seconds, "second"] : seconds < 7200 ? [seconds / 60, "minute"] : [seconds / 3600, "hour"];
  const rounded = Math.round(amount * 10) / 10;
  return `${rounded} ${unit}${rounded === 1 ? "" : "s"}`;
}

function fillImageSizes(option) {
  const select = document.getElementById("id_resolution");
  const chosen = select.value || select.dataset.chosen;
  const own = option.dataset.side;
  const sides = option.dataset.sides ? option.dataset.sides.split(",") : [own];
  // Selected explicitly: a select without a selected option shows its first, the smallest side, not the own one.
  const wanted = sides.includes(chosen) ? chosen : own;
  select.replaceChildren(
    ...sides.map((side) => {
      const label = side === own ? `${side} × ${side} px, as prepared` : `${side} × ${side} px`;
      return new Option(label, side === own ? "" : side, false, side === wanted);
    }),
  );
  select.dataset.chosen = "";
}

function describeStrategy(select) {
  document.getElementById("strategy-sentence").textContent = select.selectedOptions[0].dataset.sentence;
}

async function estimate() {
  const fields = form.elements;
  document.getElementById("custom-limits").hidden = fields.target.value !== "custom";
  const option = fields.namedItem("dataset").selectedOptions[0];
  const budget = budgetSeconds(fields);
  const candidates = document.getElementById("estimate-candidates");
  const text = document.getElementById("estimate-text");
  if (!option || !budget) {
    asked++;
    candidates.textContent = "–";
    text.textContent = "Choose a dataset and a budget.";
    return;
  }
  const fromScratchOnly = !form.querySelector('input[name="backbones"]:checked');
  const query = new URLSearchParams({ dataset: option.value, budget_seconds: budget, strategy: fields.strategy.value,
    from_scratch_only: fromScratchOnly });
  const question = ++asked;
  const response = await fetch(`/api/runs/estimate/?${query}`, { headers: { Accept: "application/json" } });
  if (question !== asked) return;
  if (!response.ok) {
    candidates.textContent = "–";
    const minimum = 60 * Number(fields.custom_minutes.min);
    text.textContent = budget < minimum ? `A search needs at least ${minimum} seconds.` : "No estimate for these settings.";
    return;
  }
  const answer = await response.json();
  if (question !== asked) return;
  const basis = answer.measured_runs
    ? `at the speed your workers showed in the last ${answer.measured_runs} run${answer.measured_runs === 1 ? "" : "s"}`
    : "on a small CPU worker (a GPU worker tries many more)";
  const learning = answer.measured_runs ? "" : " NASweb learns your workers' speed from your first run, and this estimate gets closer.";
  const time = budgetWords(budget);
  if (answer.recipe_epochs) {
    candidates.textContent = "one proven network";
    text.textContent = `${time} is too short to search on this data ${basis}: NASweb trains its proven network on all training images for about ${answer.recipe_epochs} rounds, which beats searching at this budget. Give it more time to search for a better one.${learning}`;
    return;
  }
  const [low, high] = [answer.candidates_low, answer.candidates_high];
  candidates.textContent = low === high ? `about ${low} candidate network${low === 1 ? "" : "s"}`
    : `${low} to ${high} candidate networks, most likely about ${answer.candidates}`;
  text.textContent = `${basis}, in ${time} in all; the rest of the time trains the best one longer. How many depends on what the search draws: heads on a pretrained network take seconds, networks it fine-tunes minutes. The search stops on time and always leaves a trained model.${learning}`;
}

function changed(event) {
  if (event.target.name === "dataset") fillImageSizes(event.target.selectedOptions[0]);
  if (event.target.name === "strategy") describeStrategy(event.target);
  clearTimeout(pending);
  pending = setTimeout(estimate, ESTIMATE_DELAY_MS);
}

if (form) {
  form.addEventListener("input", changed);
  fillImageSizes(form.elements.namedItem("dataset").selectedOptions[0]);
  estimate();
}
