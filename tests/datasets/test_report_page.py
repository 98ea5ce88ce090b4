"""The data report page says what NASweb found, down to the files it could not read."""

import pytest

from apps.datasets.findings import dataset_findings
from apps.datasets.models import Dataset

pytestmark = pytest.mark.django_db


def test_the_report_names_each_unreadable_file_and_why(client, alice):
    findings = dataset_findings([], class_names=["cat"], unreadable=[("cat/broken.jpg", "truncated or corrupt")])
    dataset = Dataset.objects.create(team=alice.teams.get(), created_by=alice, name="Pets", status="ready",
                                     findings=[finding.to_dict() for finding in findings])
    client.force_login(alice)

    page = client.get(f"/datasets/{dataset.pk}/").content.decode()

    assert "<code>cat/broken.jpg</code>: truncated or corrupt" in page
