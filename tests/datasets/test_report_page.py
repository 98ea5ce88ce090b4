"""The data report page says what NASweb found, down to the files it could not read."""

import re

import pytest

from apps.datasets.findings import dataset_findings
from apps.datasets.models import Dataset, DatasetImage
from apps.datasets.records import ImageRecord

pytestmark = pytest.mark.django_db


def test_the_report_names_each_unreadable_file_and_why(client, alice):
    findings = dataset_findings([], class_names=["cat"], unreadable=[("cat/broken.jpg", "truncated or corrupt")])
    dataset = Dataset.objects.create(team=alice.teams.get(), created_by=alice, name="Pets", status="ready",
                                     findings=[finding.to_dict() for finding in findings])
    client.force_login(alice)

    page = client.get(f"/datasets/{dataset.pk}/").content.decode()

    assert "<code>cat/broken.jpg</code>: truncated or corrupt" in page


def test_a_finding_shows_its_examples_side_by_side_with_their_labels(client, alice):
    records = [ImageRecord(path=path, label=label, width=8, height=8, channels=1, sha256="same", phash=0,
                           thumbnail="")
               for path, label in (("cat/1.png", "cat"), ("dog/1.png", "dog"), ("cat/2.png", "cat"))]
    findings = dataset_findings(records, class_names=["cat", "dog"])
    dataset = Dataset.objects.create(team=alice.teams.get(), created_by=alice, name="Pets", status="ready",
                                     findings=[finding.to_dict() for finding in findings])
    images = {record.path: DatasetImage.objects.create(dataset=dataset, path=record.path, label=record.label,
                                                       width=8, height=8, channels=1, thumbnail="t.jpg")
              for record in records}
    client.force_login(alice)

    page = client.get(f"/datasets/{dataset.pk}/").content.decode()

    conflict = page[page.index('data-code="label_conflicts"'):]
    group = conflict[conflict.index('<div class="finding__group">'):conflict.index("</div>")]
    shown = re.findall(r'<img src="/datasets/\d+/images/(\d+)/thumbnail/" alt="([^"]+)"', group)
    assert sorted(shown) == sorted((str(image.pk), path) for path, image in images.items())
    assert re.findall(r"<figcaption[^>]*>(\w+)</figcaption>", group) == ["cat", "dog", "cat"]
