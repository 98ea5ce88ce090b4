"""Groups of copies and near-copies, which the engine's split keeps whole so no test image has its twin in training."""

from collections.abc import Sequence

from apps.datasets.findings import TINY_SIDE, near_duplicate_pairs
from apps.datasets.records import ImageRecord


def duplicate_groups(records: Sequence[ImageRecord]) -> list[int]:
    """A group id per record (0, 1, ... in order of first appearance): exact and near copies within a class share one.

    Groups are the connected components of the copy pairs, so a chain of near copies is one group. Copies across
    classes are not joined: they are label conflicts (the data report names them) and cannot flatter the test score.

    Args:
        records: the readable images, in the training copy's order.
    """
    parent = list(range(len(records)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]  # path halving keeps the trees flat
            index = parent[index]
        return index

    first_of: dict[tuple[str, str], int] = {}
    for index, record in enumerate(records):
        parent[root(index)] = root(first_of.setdefault((record.sha256, record.label), index))
    # Images under TINY_SIDE hash a blur of a few pixels, so distinct ones collide (8 x 8 digits chain into one group
    # of 1,330 out of 1,797): only exact copies group them. Past MAX_NEAR_PAIRS pairs (degenerate data) the rest
    # stay ungrouped.
    hashed = [index for index in first_of.values()
              if min(records[index].width, records[index].height) >= TINY_SIDE]
    for a, b in near_duplicate_pairs([records[index].phash for index in hashed]):
        i, j = hashed[a], hashed[b]
        if records[i].label == records[j].label:
            parent[root(i)] = root(j)
    numbers: dict[int, int] = {}
    return [numbers.setdefault(root(index), len(numbers)) for index in range(len(records))]
