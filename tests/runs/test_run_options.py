"""The run form's options a script or the page can set: image size, pretrained networks, and the estimate of what a
budget buys."""

import pytest
from django.utils.html import escape

from apps.datasets.models import Dataset
from apps.nas.names import BACKBONE_NAMES, STRATEGY_SENTENCES
from apps.nas.strategies import STRATEGIES
from apps.runs.budgets import default_speed
from apps.runs.models import Run
from apps.runs.selectors import worker_speed
from apps.runs.services import RunError, run_create

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def logged_in(api_client, alice):
    api_client.force_login(alice)


def create(api_client, dataset, **fields):
    return api_client.post("/api/runs/", {"dataset": dataset.pk, "budget_seconds": 300, **fields}, format="json")


def test_a_dataset_lists_the_image_sides_a_run_may_train_at(api_client, ready_dataset):
    assert api_client.get(f"/api/datasets/{ready_dataset.pk}/").json()["training_sides"] == [8, 16, 24, 28]


def test_photos_are_offered_sides_that_still_show_something_and_no_larger_than_they_are():
    photos = Dataset(stats={"resolution": 224, "width": {"median": 500}, "height": {"median": 375}})
    small_photos = Dataset(stats={"resolution": 96, "width": {"median": 100}, "height": {"median": 90}})

    assert photos.training_sides() == [64, 96, 128, 160, 224]
    assert small_photos.training_sides() == [24, 32, 48, 64, 96]


def test_a_run_trains_at_the_image_side_it_was_given(api_client, ready_dataset, fake_engine, drain):
    smaller = create(api_client, ready_dataset, resolution=16).json()
    own = create(api_client, ready_dataset, resolution=28).json()
    drain()

    assert smaller["resolution"] == 16 and own["resolution"] is None  # the ingested side needs no new copy
    assert sorted(fake_engine.sides, key=str) == [16, None]


def test_an_image_side_the_dataset_cannot_give_is_refused(api_client, ready_dataset):
    response = create(api_client, ready_dataset, resolution=64)  # upscaling 28 px images adds no detail

    assert response.status_code == 400
    assert response.json()["detail"] == "The images of this dataset can be trained at 8, 16, 24, 28 pixels, not 64."
    assert not Run.objects.exists()


def test_a_script_chooses_the_pretrained_networks_a_search_may_start_from(api_client, ready_dataset, fake_engine,
                                                                           drain):
    some = create(api_client, ready_dataset, backbones=["lite1"]).json()
    none = create(api_client, ready_dataset, backbones=[]).json()
    drain()

    assert (some["space"], none["space"]) == ({"backbones": ["lite1"]}, {"backbones": []})
    assert sorted(config.space.backbones for config in fake_engine.configs) == [(), ("lite1",)]


def test_a_pretrained_network_nasweb_lacks_is_refused_by_name(api_client, ready_dataset):
    response = create(api_client, ready_dataset, backbones=["lite0", "resnet50"])

    assert response.status_code == 400
    assert response.json() == {"backbones": {"1": ['"resnet50" is not a valid choice.']}}
    assert not Run.objects.exists()


def test_the_service_names_the_pretrained_networks_there_are(alice, ready_dataset):
    with pytest.raises(RunError, match=r"^Unknown pretrained networks: resnet50. Choose from: lite0, lite1, lite2.$"):
        run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300,
                   backbones=["resnet50"])


def new_run_page(client, dataset, **fields):
    return client.post("/runs/new/", {"dataset": dataset.pk, "budget": "quick", "target": "any", "strategy": "auto",
                                      "seed": 0, "block_types": ["plain"], **fields})


def test_the_new_run_page_offers_every_pretrained_network_ticked(client, alice, ready_dataset):
    client.force_login(alice)
    client.post("/accounts/teams/switch/", {"team": ready_dataset.team_id})  # the form offers the current team's

    page = client.get("/runs/new/").content.decode()

    for value, name in BACKBONE_NAMES.items():
        assert f'<input type="checkbox" name="backbones" value="{value}" checked> {name}</label>' in page
    assert "Untick all to search only networks trained from scratch." in page


def test_unticking_every_pretrained_network_searches_from_scratch_only(client, alice, ready_dataset, fake_engine,
                                                                         drain):
    client.force_login(alice)

    response = new_run_page(client, ready_dataset)  # a form sends no `backbones` when none is ticked
    drain()

    run = Run.objects.get()
    assert response.status_code == 302 and run.space == {"block_types": ["plain"], "backbones": []}
    assert fake_engine.configs[0].space.backbones == ()


def test_the_new_run_page_keeps_the_networks_ticked_and_refuses_one_nasweb_lacks(client, alice, ready_dataset):
    client.force_login(alice)

    page = new_run_page(client, ready_dataset, backbones=["lite2", "resnet50"]).content.decode()

    assert "Select a valid choice. resnet50 is not one of the available choices." in page
    assert 'value="lite2" checked' in page and 'value="lite0" checked' not in page
    assert not Run.objects.exists()


def test_every_strategy_of_the_engine_can_be_chosen_and_no_other(api_client, ready_dataset):
    assert sorted(dict(Run._meta.get_field("strategy").choices)) == sorted(STRATEGIES)
    response = create(api_client, ready_dataset, strategy="hillclimb")

    assert response.status_code == 400 and "hillclimb" in str(response.json())
    assert not Run.objects.exists()


def test_a_script_chooses_the_reinforcement_learning_strategy(api_client, ready_dataset, fake_engine, drain):
    response = create(api_client, ready_dataset, strategy="rl")
    drain()

    assert response.status_code == 201 and response.json()["strategy"] == "rl"
    assert [config.strategy for config in fake_engine.configs] == ["rl"]


def test_the_api_schema_explains_every_strategy(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    run_create = schema["components"]["schemas"]["RunCreateInput"]["properties"]["strategy"]
    estimate_query = next(parameter for parameter in schema["paths"]["/api/runs/estimate/"]["get"]["parameters"]
                          if parameter["name"] == "strategy")

    for described in (run_create, estimate_query):
        for strategy in STRATEGIES:
            assert f"- `{strategy}`: {STRATEGY_SENTENCES[strategy]}" in described["description"]


def test_the_new_run_page_explains_every_strategy_and_the_chosen_one_first(client, alice, ready_dataset):
    client.force_login(alice)
    client.post("/accounts/teams/switch/", {"team": ready_dataset.team_id})  # the form offers the current team's

    page = client.get("/runs/new/").content.decode()
    chosen = new_run_page(client, ready_dataset, strategy="rl", budget="custom").content.decode()  # refused: no minutes

    for strategy in STRATEGIES:
        assert f'<option value="{strategy}" data-sentence="{escape(STRATEGY_SENTENCES[strategy])}"' in page
    assert f'id="strategy-sentence" aria-live="polite">{escape(STRATEGY_SENTENCES["auto"])}</p>' in page
    assert f'id="strategy-sentence" aria-live="polite">{escape(STRATEGY_SENTENCES["rl"])}</p>' in chosen


def estimate(api_client, dataset, **params):
    return api_client.get("/api/runs/estimate/", {"dataset": dataset.pk, "budget_seconds": 1800, **params})


def finished_run(dataset, strategy: str = "auto", **summary):
    """A finished run of `strategy` whose search trained `candidates_trained` candidates for `epochs_trained` epochs
    in all."""
    summary = {"training_seconds": 100.0, "elapsed_seconds": 200.0, "epochs_trained": 200, "candidates_trained": 40,
               "splits": {"train": 7, "val": 1, "test": 2}, **summary}
    return Run.objects.create(team=dataset.team, dataset=dataset, name="earlier", status=Run.Status.FINISHED,
                              strategy=strategy, budget_seconds=200, original_budget_seconds=200,
                              result={"summary": summary})


def test_the_estimate_without_finished_runs_assumes_a_small_cpu(api_client, ready_dataset):
    answer = estimate(api_client, ready_dataset).json()

    assert answer["measured_runs"] == 0
    assert answer["search_seconds"] == round(1800 * default_speed(colour=False).search_share)
    assert estimate(api_client, ready_dataset, budget_seconds=7200).json()["candidates"] > answer["candidates"]


def test_the_estimate_follows_the_speed_of_finished_runs(api_client, ready_dataset):
    # 40 candidates x 5 epochs of 7 training images in 100 of 200 seconds: 1/14 s an image-epoch, half the budget.
    finished_run(ready_dataset)

    answer = estimate(api_client, ready_dataset, budget_seconds=300).json()

    # 150 s of training at 5 epochs x 7 images (70% of 10) x 1/14 s = 2.5 s a candidate. One run tells no spread:
    # the default's, 0.17-1.5 times.
    assert answer == {"candidates": 60, "candidates_low": 10, "candidates_high": 90, "recipe_epochs": 0,
                      "search_seconds": 150, "measured_runs": 1}


def test_a_budget_too_short_to_search_from_scratch_is_said_to_train_the_proven_network_alone(api_client,
                                                                                              ready_dataset):
    # 2 s an image-epoch: one epoch of the recipe on train+validation (85% of 10 images) takes 17 s.
    finished_run(ready_dataset, training_seconds=2800.0, elapsed_seconds=3000.0)
    short = {"budget_seconds": 600, "from_scratch_only": "true"}

    answer = estimate(api_client, ready_dataset, **short).json()

    # (600 s - 12 s kept for the end) / (17 s x 1.1 margin) = 31 epochs: far too few for a search to pay.
    assert answer["recipe_epochs"] == 31 and answer["candidates"] == 1
    assert estimate(api_client, ready_dataset, **short, strategy="random").json()["recipe_epochs"] == 0
    assert estimate(api_client, ready_dataset, budget_seconds=86400, from_scratch_only="true").json()[
        "recipe_epochs"] == 0  # time to search
    # With pretrained networks, auto probes one frozen on any budget, and searches.
    assert estimate(api_client, ready_dataset, budget_seconds=600).json()["recipe_epochs"] == 0


def test_a_run_that_trained_the_recipe_alone_counts_for_speed_not_for_the_search_schedule(api_client, ready_dataset):
    # 120 epochs of the recipe on 8 train+validation images in 96 s: 0.1 s an image-epoch.
    finished_run(ready_dataset, recipe_only=True, training_seconds=96.0, elapsed_seconds=100.0, epochs_trained=120,
                 candidates_trained=1)
    speed = worker_speed(dataset=ready_dataset, strategy="auto")
    default = default_speed(colour=False)
    assert speed.seconds_per_image_epoch == pytest.approx(0.1)
    assert (speed.epochs_per_candidate, speed.search_share) == (default.epochs_per_candidate, default.search_share)


def test_runs_on_the_same_dataset_count_before_others(api_client, ready_dataset, alice):
    other = Dataset.objects.create(team=ready_dataset.team, name="Other", status="ready", num_images=10)
    finished_run(other, training_seconds=1000.0, elapsed_seconds=2000.0)  # ten times slower
    assert estimate(api_client, ready_dataset, budget_seconds=1800).json()["candidates"] == 36

    finished_run(ready_dataset)
    assert estimate(api_client, ready_dataset, budget_seconds=1800).json() == {
        "candidates": 360, "candidates_low": 61, "candidates_high": 540, "recipe_epochs": 0, "search_seconds": 900,
        "measured_runs": 1}


def test_the_estimate_is_a_range_as_wide_as_the_finished_runs_varied(api_client, ready_dataset):
    # At the same pooled speed, one run trained 20 candidates and the other 60: half and 1.5 times the 40 expected.
    finished_run(ready_dataset, candidates_trained=20, epochs_trained=100, training_seconds=50.0)
    finished_run(ready_dataset, candidates_trained=60, epochs_trained=300, training_seconds=150.0)

    answer = estimate(api_client, ready_dataset, budget_seconds=200).json()

    assert (answer["candidates_low"], answer["candidates"], answer["candidates_high"]) == (20, 40, 60)


def test_without_finished_runs_photos_are_estimated_at_the_speed_photos_trained(api_client, ready_dataset):
    grey = estimate(api_client, ready_dataset).json()
    ready_dataset.stats = {**ready_dataset.stats, "channels": {"grey": 0, "colour": 10}}
    ready_dataset.save()
    photos = estimate(api_client, ready_dataset).json()

    # Pretrained networks at up to 224 px: fewer candidates in the same time, and a wider range.
    assert photos["candidates"] < grey["candidates"]
    assert photos["search_seconds"] == round(1800 * default_speed(colour=True).search_share)
    assert photos["candidates_high"] / photos["candidates"] > grey["candidates_high"] / grey["candidates"]


def test_runs_of_the_same_strategy_count_before_others(api_client, ready_dataset):
    finished_run(ready_dataset)  # auto's
    assert estimate(api_client, ready_dataset, budget_seconds=300, strategy="random").json()["candidates"] == 60

    # Random search trains each candidate's whole schedule: ten times the epochs at the same pace.
    finished_run(ready_dataset, strategy="random", epochs_trained=2000, training_seconds=1000.0,
                 elapsed_seconds=2000.0)

    assert estimate(api_client, ready_dataset, budget_seconds=300, strategy="random").json()["candidates"] == 6
    assert estimate(api_client, ready_dataset, budget_seconds=300, strategy="auto").json()["candidates"] == 60


def test_the_estimate_is_only_for_ones_own_datasets_and_valid_budgets(api_client, ready_dataset, charlie):
    assert estimate(api_client, ready_dataset, budget_seconds=5).status_code == 400
    api_client.force_login(charlie)
    assert estimate(api_client, ready_dataset).status_code == 404


@pytest.mark.parametrize("max_params", [10**30, 2**63, 10**9 + 1, 0])
def test_a_parameter_limit_past_any_network_is_refused_in_words(api_client, ready_dataset, max_params):
    response = create(api_client, ready_dataset, max_params=max_params)

    assert response.status_code == 400
    assert response.json() == {"max_params": ["A parameter limit is a whole number from 1 to 1,000,000,000."]}
    assert not Run.objects.exists()


def test_a_seed_past_its_column_is_refused_in_words(api_client, ready_dataset):
    response = create(api_client, ready_dataset, seed=2**63)

    assert response.status_code == 400 and response.json() == {"seed": ["A seed is a whole number from 0 to "
                                                                        "2,147,483,647."]}


@pytest.mark.parametrize(("fields", "message"), [
    ({"target": "custom", "max_params": 10**30}, "A parameter limit is a whole number from 1 to 1,000,000,000."),
    ({"target": "custom", "max_params": 2**63}, "A parameter limit is a whole number from 1 to 1,000,000,000."),
    ({"seed": 2**31}, "A seed is a whole number from 0 to 2,147,483,647."),
])
def test_the_new_run_page_refuses_numbers_past_their_bounds_in_words(client, alice, ready_dataset, fields, message):
    client.force_login(alice)

    response = new_run_page(client, ready_dataset, **fields)

    assert response.status_code == 200 and message in response.content.decode()
    assert not Run.objects.exists()


def test_the_service_keeps_the_bounds_for_every_caller(alice, ready_dataset):
    with pytest.raises(RunError, match="parameter limit"):
        run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300, max_params=2**63)


@pytest.mark.parametrize(("minutes", "custom"), [("6", True), ("abc", False), ("0.1", False), ("100000", False)])
def test_a_link_may_fill_in_a_custom_budget_the_form_would_accept(client, alice, ready_dataset, minutes, custom):
    client.force_login(alice)
    form = client.get(f"/runs/new/?dataset={ready_dataset.pk}&minutes={minutes}").content.decode()

    assert ('value="custom" checked' in form) is custom
    assert ('name="custom_minutes" min="0.5" step="0.5" value="6.0"' in form) is custom
