from django import forms

from apps.nas.names import BACKBONE_NAMES, BLOCK_TYPES, STRATEGIES, STRATEGY_SENTENCES

from .budgets import BUDGET_PRESETS, MAX_BUDGET_SECONDS, MIN_BUDGET_SECONDS
from .models import MAX_PARAMS_LIMIT, MAX_PARAMS_MESSAGE, MAX_SEED, SEED_MESSAGE

# What a deployment target means in limits: latency is CPU batch-1 milliseconds, size the fp32 weights.
TARGET_PRESETS = {
    "any": {},
    "phone": {"max_latency_ms": 20.0, "max_model_mb": 10.0},
    "microcontroller": {"max_params": 250_000, "max_model_mb": 1.0, "max_latency_ms": 5.0},
}


class RunForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=None, empty_label=None)
    budget = forms.ChoiceField(choices=[("quick", "Quick"), ("standard", "Standard"), ("thorough", "Thorough"),
                                        ("custom", "Custom")], initial="quick", widget=forms.RadioSelect)
    custom_minutes = forms.FloatField(required=False, min_value=MIN_BUDGET_SECONDS / 60,
                                      max_value=MAX_BUDGET_SECONDS / 60)
    target = forms.ChoiceField(choices=[("any", "Any"), ("phone", "Phone"), ("microcontroller", "Microcontroller"),
                                        ("custom", "Custom")], initial="any", widget=forms.RadioSelect)
    max_latency_ms = forms.FloatField(required=False, min_value=0.01)
    max_model_mb = forms.FloatField(required=False, min_value=0.001)
    max_params = forms.IntegerField(required=False, min_value=1, max_value=MAX_PARAMS_LIMIT, error_messages={
        "min_value": MAX_PARAMS_MESSAGE, "max_value": MAX_PARAMS_MESSAGE})
    strategy = forms.ChoiceField(choices=list(STRATEGIES.items()), initial="auto")
    seed = forms.IntegerField(initial=0, min_value=0, max_value=MAX_SEED,
                              error_messages={"min_value": SEED_MESSAGE, "max_value": SEED_MESSAGE})
    resolution = forms.IntegerField(required=False, min_value=1)  # the choices depend on the dataset
    block_types = forms.MultipleChoiceField(
        choices=list(BLOCK_TYPES.items()), initial=list(BLOCK_TYPES), widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Leave at least one kind of building block for the search."},
    )
    # None ticked is a choice: networks from scratch only.
    backbones = forms.MultipleChoiceField(choices=list(BACKBONE_NAMES.items()), initial=list(BACKBONE_NAMES),
                                          required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, datasets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = datasets

    @staticmethod
    def initial_from(query) -> dict:
        """What a link may fill in (the result page's "run again with more time"): ?dataset=ID&minutes=M; a value
        that would not validate is left out."""
        initial = {"dataset": query.get("dataset")}
        try:
            minutes = float(query.get("minutes", ""))
        except ValueError:
            return initial
        if MIN_BUDGET_SECONDS <= minutes * 60 <= MAX_BUDGET_SECONDS:
            initial.update(budget="custom", custom_minutes=minutes)
        return initial

    def clean(self):
        data = super().clean()
        if data.get("budget") == "custom" and not data.get("custom_minutes"):
            self.add_error("custom_minutes", "How many minutes may the search take?")
        return data

    def strategy_choices(self) -> list[tuple[str, str, str]]:
        """Each strategy's value and label, with the sentence the page shows when it is chosen."""
        return [(value, label, STRATEGY_SENTENCES[value]) for value, label in STRATEGIES.items()]

    def chosen_strategy_sentence(self) -> str:
        return STRATEGY_SENTENCES.get(self["strategy"].value(), "")

    def run_options(self) -> dict:
        data = self.cleaned_data
        budget = data["budget"]
        seconds = data["custom_minutes"] * 60 if budget == "custom" else BUDGET_PRESETS[budget]
        if data["target"] == "custom":
            limits = {key: data[key] for key in ("max_latency_ms", "max_model_mb", "max_params") if data[key]}
        else:
            limits = TARGET_PRESETS[data["target"]]
        return {"budget_seconds": seconds, "strategy": data["strategy"], "seed": data["seed"] or 0,
                "block_types": data["block_types"], "backbones": data["backbones"], "resolution": data["resolution"],
                **limits}
