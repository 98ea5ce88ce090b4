"""Findings: each problem a non-expert can have with their data is named, explained and ranked."""

import zlib

import numpy as np

from apps.datasets.findings import (
    HARD_MIN_PER_CLASS,
    RECOMMENDED_PER_CLASS,
    Finding,
    dataset_findings,
    near_duplicate_pairs,
)
from apps.datasets.records import ImageRecord


def record(path: str, label: str, *, sha: str | None = None, phash: int | None = None, side: int = 32,
           channels: int = 3) -> ImageRecord:
    seed = zlib.crc32(path.encode())
    return ImageRecord(path=path, label=label, width=side, height=side, channels=channels,
                       sha256=sha or path, phash=phash if phash is not None else
                       int(np.random.default_rng(seed).integers(0, 2**63)), thumbnail="")


def balanced(per_class: int = RECOMMENDED_PER_CLASS, classes=("cat", "dog")) -> list[ImageRecord]:
    return [record(f"{name}/{i}.png", name) for name in classes for i in range(per_class)]


def codes(findings: list[Finding]) -> dict[str, str]:
    return {finding.code: finding.severity for finding in findings}


def test_a_healthy_dataset_has_no_findings():
    assert dataset_findings(balanced()) == []


def test_no_images_at_all_is_an_error():
    assert codes(dataset_findings([], class_names=["cat", "dog"])) == {"no_images": "error"}


def test_a_single_class_is_an_error():
    assert codes(dataset_findings(balanced(classes=("cat",)))) == {"single_class": "error"}


def test_too_few_images_in_a_class_is_an_error_that_says_what_to_do():
    records = balanced() + [record(f"bird/{i}.png", "bird") for i in range(HARD_MIN_PER_CLASS - 1)]

    findings = dataset_findings(records, class_names=["bird", "cat", "dog", "fish"])

    assert findings[0].code == "too_few_images" and findings[0].severity == "error"
    assert findings[0].details["classes"] == {"bird": 4, "fish": 0}
    assert "Add more images" in findings[0].message


def test_fewer_than_recommended_is_a_warning():
    assert codes(dataset_findings(balanced(per_class=40))) == {"few_images": "warning"}


def test_a_class_too_small_to_judge_is_a_warning_that_says_how_many_photos_to_add():
    records = balanced(per_class=100) + [record(f"bird/{i}.png", "bird") for i in range(12)]

    findings = dataset_findings(records)

    assert codes(findings) == {"too_few_to_judge": "warning", "class_imbalance": "warning"}
    assert findings[0].details["classes"] == {"bird": {"images": 12, "test_images": 2, "add": 19}}
    assert "Add at least 19 more photos of 'bird'" in findings[0].message
    # 31 birds in 231 images: 15% is 4.65, so the engine would test on 5 of them.
    assert "too_few_to_judge" not in codes(dataset_findings(records + [record(f"bird/more_{i}.png", "bird")
                                                                      for i in range(19)]))


def test_a_small_dataset_is_judged_with_the_larger_test_share_the_engine_gives_it():
    # 17 + 17 images: the engine tests on 30% of each class, 5 images, so both classes can be judged.
    assert "too_few_to_judge" not in codes(dataset_findings(balanced(per_class=17)))
    assert "too_few_to_judge" in codes(dataset_findings(balanced(per_class=14)))


def test_class_imbalance_is_a_warning_with_the_ratio():
    records = balanced() + [record(f"cat/extra_{i}.png", "cat") for i in range(300)]

    findings = dataset_findings(records)

    assert codes(findings) == {"class_imbalance": "warning"}
    assert findings[0].details["ratio"] == 7.0


def test_unreadable_files_are_listed_not_fatal():
    unreadable = [(f"cat/bad_{i}.png", "truncated or corrupt") for i in range(25)]

    findings = dataset_findings(balanced(), unreadable=unreadable)

    assert codes(findings) == {"corrupt_files": "warning"}
    assert findings[0].details["count"] == 25 and len(findings[0].details["files"]) == 20


def test_exact_duplicates_are_found_by_content():
    records = balanced() + [record("cat/copy.png", "cat", sha="cat/0.png")]

    findings = dataset_findings(records)

    assert codes(findings) == {"exact_duplicates": "warning"}
    assert findings[0].details["examples"] == [["cat/0.png", "cat/copy.png"]]


def test_a_duplicate_across_classes_is_a_label_conflict():
    records = balanced() + [record("dog/looks_like_a_cat.png", "dog", sha="other", phash=balanced()[0].phash ^ 0b101)]

    found = codes(dataset_findings(records))

    assert found == {"near_duplicates": "info", "label_conflicts": "warning"}


def test_tiny_images_and_mixed_channels_are_reported():
    records = balanced() + [record("cat/tiny.png", "cat", side=8, channels=1)]

    assert codes(dataset_findings(records)) == {"tiny_images": "warning", "mixed_channels": "info"}


def test_findings_are_ordered_errors_first_and_serialise():
    records = [record("cat/tiny.png", "cat", side=8)]

    findings = dataset_findings(records)

    assert [f.severity for f in findings] == sorted((f.severity for f in findings),
                                                     key=["error", "warning", "info"].index)
    assert findings[0].to_dict().keys() == {"severity", "code", "message", "details"}


def test_near_duplicate_pairs_match_a_brute_force_count():
    generator = np.random.default_rng(1)
    hashes = generator.integers(0, 2**63, 3000).tolist()
    hashes += [h ^ (1 << int(generator.integers(0, 63))) for h in hashes[:40]]  # 40 one-bit neighbours

    pairs = near_duplicate_pairs(hashes, max_distance=3)

    brute = {(i, j) for i in range(len(hashes)) for j in range(i + 1, len(hashes))
             if i < 60 and bin(hashes[i] ^ hashes[j]).count("1") <= 3}
    assert {(i, j) for i, j in pairs if i < 60} == brute
    assert len(pairs) >= 40


def test_near_duplicate_pairs_stop_at_a_cap_for_degenerate_data():
    assert len(near_duplicate_pairs([0] * 1000, max_pairs=500)) == 500


def test_ten_thousand_unrelated_images_have_no_near_duplicates():
    hashes = np.random.default_rng(2).integers(0, 2**63, 10_000).tolist()  # ~50M pairs, compared in numpy blocks

    assert near_duplicate_pairs(hashes) == []
