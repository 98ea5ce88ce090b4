import pytest

from apps.runs.models import Run
from tests.fake_results import fake_best

pytestmark = pytest.mark.django_db


def test_the_compare_page_writes_parameter_counts_as_people_read_them(client, alice, ready_dataset):
    runs = [Run.objects.create(team=ready_dataset.team, created_by=alice, dataset=ready_dataset, name=f"run {n}",
                               budget_seconds=300, original_budget_seconds=300, status="finished",
                               best=fake_best(params=params)) for n, params in enumerate((3383818, 950))]
    client.force_login(alice)

    page = client.get(f"/runs/compare/?run={runs[0].pk}&run={runs[1].pk}").content.decode()

    assert '<td class="num">3,383,818</td>' in page and '<td class="num">950</td>' in page


def test_the_compare_page_names_each_best_network_plainly_with_its_settings_behind_details(client, alice,
                                                                                          ready_dataset):
    best = fake_best()
    runs = [Run.objects.create(team=ready_dataset.team, created_by=alice, dataset=ready_dataset, name=f"run {n}",
                               budget_seconds=300, original_budget_seconds=300, status=status,
                               best=best if status == "finished" else None)
            for n, status in enumerate(("finished", "failed"))]
    client.force_login(alice)

    page = client.get(f"/runs/compare/?run={runs[0].pk}&run={runs[1].pk}").content.decode()

    network_row = page[page.index("<th>Network</th>"):]
    network_row = network_row[:network_row.index("</tr>")]
    assert best["name"] in network_row
    assert f'<summary>Details</summary><span class="genotype">{best["genotype_summary"]}</span>' in network_row
    assert network_row.endswith("<td>–</td>")  # the failed run has no best network
