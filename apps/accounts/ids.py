"""Ids that arrive as text (`?team=`, `?run=`, a form's choice), read one way everywhere."""

MAX_ID = 2**63 - 1  # the largest a BigAutoField holds


def id_from_text(raw: str | None) -> int | None:
    """The positive database id `raw` spells in ASCII digits, or None for anything else (², -1, 41 digits, 1.5)."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_ID)):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None
