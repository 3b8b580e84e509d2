"""Version ranges for vendor releases: "latest", exact, "^1.2", "~1.2", "1.2.*", ">=1.2,<2".

Releases on GitHub and tags in a registry are plain dotted numbers (optionally "v"-prefixed);
pre-releases (anything with a suffix) are never picked by a range.
"""

from __future__ import annotations

import re

_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)([-+].*)?$")


def parse(version: str) -> tuple[tuple[int, ...], str] | None:
    m = _VERSION.match(version.strip())
    if not m:
        return None
    return tuple(int(part) for part in m.group(1).split(".")), m.group(2) or ""


def _padded(a: tuple[int, ...], n: int) -> tuple[int, ...]:
    return a + (0,) * (n - len(a))


def _cmp(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = max(len(a), len(b))
    a, b = _padded(a, n), _padded(b, n)
    return (a > b) - (a < b)


def satisfies(version: str, spec: str) -> bool:
    parsed = parse(version)
    if parsed is None:
        return False
    numbers, suffix = parsed
    spec = spec.strip()
    if spec == "latest":
        return not suffix
    exact = parse(spec)
    if exact is not None:
        return _cmp(numbers, exact[0]) == 0 and suffix == exact[1]
    if suffix:
        return False
    return all(_satisfies_one(numbers, part.strip()) for part in spec.split(",") if part.strip())


def _satisfies_one(numbers: tuple[int, ...], clause: str) -> bool:
    if clause.startswith(("^", "~")):
        base = parse(clause[1:])
        if base is None:
            raise ValueError(f"not a version range: {clause!r}")
        keep = 1 if clause[0] == "^" else min(2, len(base[0]))
        upper = base[0][: keep - 1] + (base[0][keep - 1] + 1,)
        return _cmp(numbers, base[0]) >= 0 and _cmp(numbers, upper) < 0
    if clause.endswith(".*"):
        prefix = parse(clause[:-2].lstrip("="))
        if prefix is None:
            raise ValueError(f"not a version range: {clause!r}")
        return numbers[: len(prefix[0])] == prefix[0]
    m = re.match(r"^(>=|<=|==|!=|>|<)\s*(.+)$", clause)
    bound = parse(m.group(2)) if m else None
    if bound is None:
        raise ValueError(f"not a version range: {clause!r}")
    c = _cmp(numbers, bound[0])
    return {">=": c >= 0, "<=": c <= 0, "==": c == 0, "!=": c != 0, ">": c > 0, "<": c < 0}[m.group(1)]


def highest(candidates: list[str], spec: str) -> str | None:
    """The highest candidate that satisfies spec, as the upstream spells it (with any "v")."""
    matching = [c for c in candidates if satisfies(c, spec)]
    return max(matching, key=lambda c: _padded(parse(c)[0], 8)) if matching else None
