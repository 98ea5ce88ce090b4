"""What a dataset's contents mean for training, as findings written for someone new to machine learning."""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from apps.datasets.records import ImageRecord
from apps.nas.shares import fraction_to_test, held_out

# The engine keeps ~15% of each class for validation and ~15% for testing, at least one image each; below 5 the
# test score rests on a single image per class and cannot be trusted (the engine itself stops below 3).
HARD_MIN_PER_CLASS = 5
# With 50 images a class gets ~7 test images, enough for a rough accuracy figure; fewer gives noisy results.
RECOMMENDED_PER_CLASS = 50
# Below 5 test images one lucky or unlucky guess moves a class's test accuracy by 20 points or more.
MIN_TEST_PER_CLASS = 5
# Past 5:1 between the largest and smallest class, a model learns to favour the big class.
IMBALANCE_RATIO = 5.0
TINY_SIDE = 16  # pixels; below this an image carries too little detail to learn from
# dHash bits that may differ for two images to count as near copies: 0-4 of 64 survives resizing and
# recompression, while different photos differ by ~20 or more.
NEAR_DUPLICATE_DISTANCE = 4
MAX_NEAR_PAIRS = 10_000
MAX_LISTED = 20  # files named in a finding's details; the counts are always complete
BLOCK = 2048  # hashes per side of a comparison block: 2048 x 2048 uint64s is 32 MB


@dataclass(frozen=True)
class Finding:
    """One thing worth telling the user about their data."""

    severity: str  # "error" (cannot train), "warning" (should fix), "info"
    code: str  # stable machine code, e.g. "too_few_images"
    message: str  # plain words: what it means and what to do
    details: dict = field(default_factory=dict)  # e.g. the files concerned (capped list), counts

    def to_dict(self) -> dict:
        """A JSON-ready copy."""
        return asdict(self)


def dataset_findings(records: Sequence[ImageRecord], *, class_names: Sequence[str] = (),
                     unreadable: Sequence[tuple[str, str]] = ()) -> list[Finding]:
    """Findings about the decoded images of one labelled dataset, errors first.

    Args:
        records: one per readable image (path, label, width, height, channels, sha256, phash).
        class_names: every class found, so a class whose images were all unreadable still counts (as empty).
        unreadable: (relative path, reason) of files that could not be decoded; skipped, not fatal.
    """
    counts = Counter({name: 0 for name in class_names})
    counts.update(record.label for record in records)
    findings = [
        *_class_findings(counts),
        *_unreadable_findings(unreadable),
        *_duplicate_findings(records),
        *_tiny_findings(records),
        *_channel_findings(records),
    ]
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda finding: order[finding.severity])


def _class_findings(counts: Counter) -> list[Finding]:
    total = sum(counts.values())
    if total == 0:
        return [Finding("error", "no_images", "No readable images were found. Upload a zip with one folder per "
                        "class (for example cats/ and dogs/), each holding that class's images.", {})]
    findings = []
    if len(counts) < 2:
        name = next(iter(counts))
        findings.append(Finding("error", "single_class", f"Only one class was found ({name!r}). A model learns to "
                                "tell classes apart, so it needs at least two: add a folder of images for each "
                                "other class.", {"classes": list(counts)}))
    too_few = {name: count for name, count in counts.items() if count < HARD_MIN_PER_CLASS}
    if too_few:
        findings.append(Finding("error", "too_few_images", f"{_class_list(too_few)} fewer than "
                                f"{HARD_MIN_PER_CLASS} images; NASweb needs at least {HARD_MIN_PER_CLASS} per "
                                f"class to test a model fairly, and works best with {RECOMMENDED_PER_CLASS} or "
                                "more. Add more images to these classes, or remove them.", {"classes": too_few}))
    unjudged = _too_few_to_judge(counts)
    if unjudged:
        (first, first_more), *others = list(unjudged.items())[:MAX_LISTED]
        add = ", ".join([f"{first_more} more photos of '{first}'",
                         *(f"{more} more of '{name}'" for name, more in others)])
        findings.append(Finding("warning", "too_few_to_judge", f"{_class_list({n: counts[n] for n in unjudged})} "
                                "too few images to judge a model on: fewer than "
                                f"{MIN_TEST_PER_CLASS} of them would be kept for the test, so one lucky or unlucky "
                                "guess moves the test score a lot. Add at least "
                                f"{add}.",
                                {"classes": {name: {"images": counts[name],
                                                    "test_images": held_out(counts[name], fraction_to_test(total)),
                                                    "add": more} for name, more in unjudged.items()}}))
    few = {name: count for name, count in counts.items()
           if HARD_MIN_PER_CLASS <= count < RECOMMENDED_PER_CLASS and name not in unjudged}
    if few:
        findings.append(Finding("warning", "few_images", f"{_class_list(few)} fewer than {RECOMMENDED_PER_CLASS} "
                                "images. Training will work, but the model will be less accurate and its test "
                                "score less reliable. Add more images where you can.", {"classes": few}))
    largest, smallest = max(counts.values()), min(counts.values())
    if smallest > 0 and largest / smallest > IMBALANCE_RATIO:
        big, small = counts.most_common()[0][0], counts.most_common()[-1][0]
        findings.append(Finding("warning", "class_imbalance", f"The classes are unbalanced: {big!r} has {largest} "
                                f"images but {small!r} only {smallest}. A model trained on this tends to guess "
                                "the big classes. Add images to the small classes, or remove some from the big "
                                "ones.", {"counts": dict(counts), "ratio": round(largest / smallest, 1)}))
    return findings


def _too_few_to_judge(counts: Counter) -> dict[str, int]:
    """{class: images to add} for the classes the engine's split would give fewer than MIN_TEST_PER_CLASS test
    images (classes under HARD_MIN_PER_CLASS are an error already)."""
    total = sum(counts.values())
    unjudged = {}
    for name, count in counts.items():
        if count < HARD_MIN_PER_CLASS:
            continue
        more = 0
        # Adding images can shrink the test share of a small dataset (apps.nas.shares), so count up, not solve.
        while held_out(count + more, fraction_to_test(total + more)) < MIN_TEST_PER_CLASS:
            more += 1
        if more:
            unjudged[name] = more
    return unjudged


def _class_list(counts: dict[str, int]) -> str:
    named = ", ".join(f"'{name}' ({count})" for name, count in list(counts.items())[:MAX_LISTED])
    more = f" and {len(counts) - MAX_LISTED} more" if len(counts) > MAX_LISTED else ""
    return f"Class {named}{more} has" if len(counts) == 1 else f"Classes {named}{more} have"


def _unreadable_findings(unreadable: Sequence[tuple[str, str]]) -> list[Finding]:
    if not unreadable:
        return []
    return [Finding("warning", "corrupt_files", f"{len(unreadable)} file(s) could not be read as images and were "
                    "left out (each is listed with the reason). Training goes ahead without them; re-export "
                    "or replace them if they matter.",
                    {"count": len(unreadable), "files": [{"path": p, "reason": r} for p, r in
                                                         unreadable[:MAX_LISTED]]})]


def _duplicate_findings(records: Sequence[ImageRecord]) -> list[Finding]:
    by_content: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        by_content[record.sha256].append(index)
    exact_groups = [group for group in by_content.values() if len(group) > 1]
    # Near copies are compared among distinct contents only: exact copies are reported once, above.
    firsts = [group[0] for group in by_content.values()]
    near_pairs = [(firsts[i], firsts[j]) for i, j in near_duplicate_pairs([records[k].phash for k in firsts])]
    findings = []
    if exact_groups:
        findings.append(Finding("warning", "exact_duplicates", f"{sum(len(g) - 1 for g in exact_groups)} image(s) "
                                "are exact copies of another image. Copies make the test score look better than "
                                "it is, when one lands in training and its twin in testing. Delete the copies.",
                                {"groups": len(exact_groups), "examples": [[records[i].path for i in group]
                                                                           for group in exact_groups[:MAX_LISTED]]}))
    if near_pairs:
        at_least = "At least " if len(near_pairs) >= MAX_NEAR_PAIRS else ""
        findings.append(Finding("info", "near_duplicates", f"{at_least}{len(near_pairs)} pair(s) of images look "
                                "almost the same (resized or re-saved copies, or burst shots). Check the examples "
                                "and remove true copies; similar but genuinely different photos are fine.",
                                {"pairs": len(near_pairs), "examples": [[records[i].path, records[j].path]
                                                                        for i, j in near_pairs[:MAX_LISTED]]}))
    conflicts = [[records[i].path for i in group] for group in exact_groups
                 if len({records[i].label for i in group}) > 1]
    conflicts += [[records[i].path, records[j].path] for i, j in near_pairs if records[i].label != records[j].label]
    if conflicts:
        findings.append(Finding("warning", "label_conflicts", f"{len(conflicts)} image(s) appear in more than one "
                                "class (the same or nearly the same picture with different labels). The model "
                                "cannot learn both answers: keep each picture in its one correct class.",
                                {"count": len(conflicts), "examples": conflicts[:MAX_LISTED]}))
    return findings


def near_duplicate_pairs(hashes: Sequence[int], max_distance: int = NEAR_DUPLICATE_DISTANCE,
                         max_pairs: int = MAX_NEAR_PAIRS) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose 64-bit hashes differ in at most `max_distance` bits, at most `max_pairs` of them.

    Args:
        hashes: 64-bit perceptual hashes.
        max_distance: the largest Hamming distance that counts as near.
        max_pairs: stop collecting past this many (a folder of near-blank images would give millions).
    """
    packed = np.array(hashes, dtype=np.uint64)  # (N,)
    pairs: list[tuple[int, int]] = []
    # Square blocks over the upper triangle: each pair once, all in numpy, memory bounded by the block size.
    for row in range(0, len(packed), BLOCK):
        for column in range(row, len(packed), BLOCK):
            distances = np.bitwise_count(packed[row:row + BLOCK, None] ^ packed[None, column:column + BLOCK])
            rows, columns = np.nonzero(distances <= max_distance)  # positions in the (B, B) block
            rows, columns = rows + row, columns + column
            keep = columns > rows
            pairs += zip(rows[keep].tolist(), columns[keep].tolist(), strict=True)
            if len(pairs) >= max_pairs:
                return sorted(pairs)[:max_pairs]
    return sorted(pairs)


def _tiny_findings(records: Sequence[ImageRecord]) -> list[Finding]:
    tiny = [record.path for record in records if min(record.width, record.height) < TINY_SIDE]
    if not tiny:
        return []
    return [Finding("warning", "tiny_images", f"{len(tiny)} image(s) are smaller than {TINY_SIDE} pixels on a "
                    "side, too small to show much detail. Use larger originals if you have them.",
                    {"count": len(tiny), "files": tiny[:MAX_LISTED]})]


def _channel_findings(records: Sequence[ImageRecord]) -> list[Finding]:
    channels = Counter(record.channels for record in records)
    if len(channels) < 2:
        return []
    grey = [record.path for record in records if record.channels == 1]
    return [Finding("info", "mixed_channels", f"{channels[1]} image(s) are black-and-white and {channels[3]} are "
                    "in colour. NASweb trains on colour and shows the grey ones as colour, which works; if colour "
                    "matters for telling your classes apart, check that the grey ones are not mistakes.",
                    {"grey": channels[1], "colour": channels[3], "grey_examples": grey[:MAX_LISTED]})]
