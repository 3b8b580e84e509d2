"""What an update-cost run says, from its own figures: per scenario and pod, the compressed
bytes a user who holds the previous release downloads (the blobs of the new manifest that are
not in the old one, at the sizes the registry lists), the targets, the registry's storage of
the releases, the layer counts; as console lines, JSON and the Markdown section between
BEGIN and END of docs/benchmarks.md. Nothing here runs a build or a registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.report import run_header

BEGIN = "<!-- update-cost:begin -->"
END = "<!-- update-cost:end -->"
MB = 1_000_000


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int  # compressed, as the registry lists it
    uncompressed: int | None = None


@dataclass(frozen=True)
class Release:
    """One pod's manifest in the registry: its layers, bottom first."""

    layers: tuple[Blob, ...]

    @property
    def size(self) -> int:
        return sum(b.size for b in self.layers)

    @property
    def uncompressed(self) -> int | None:
        sizes = [b.uncompressed for b in self.layers]
        return None if None in sizes else sum(s for s in sizes if s is not None)


def new_blobs(old: Release, new: Release) -> list[Blob]:
    """What updating from `old` to `new` downloads: each layer `old` lacks, once."""
    have = {b.digest for b in old.layers}
    out, seen = [], set()
    for blob in new.layers:
        if blob.digest not in have and blob.digest not in seen:
            seen.add(blob.digest)
            out.append(blob)
    return out


def stored(releases: list[dict[str, Release]]) -> int:
    """Bytes a registry stores for these releases of these pods: each blob once."""
    blobs = {b.digest: b.size for rel in releases for image in rel.values() for b in image.layers}
    return sum(blobs.values())


def storage_line(side: str, pods: list[str], releases: list[tuple[str, dict[str, Release]]]) -> str:
    """What the registry holds after each release, all of them so far, each blob once."""
    parts = []
    for i, (name, _) in enumerate(releases):
        total = stored([rel for _, rel in releases[: i + 1]])
        parts.append(f"{name} {total / MB:,.0f} MB" if i == 0 else f"+{name} {total / MB:,.0f} MB")
    return f"{side} ({', '.join(pods)}): " + ", ".join(parts)


@dataclass(frozen=True)
class Row:
    scenario: str
    side: str  # "ours" or "baseline"
    pod: str
    download: int
    download_uncompressed: int | None
    size: int  # the new release's compressed size
    size_uncompressed: int | None
    layers: int
    limit: int | None  # the target's bound for this pod (ours only), None: no target
    why: str  # how the bound is made

    @property
    def met(self) -> bool | None:
        return None if self.limit is None else self.download <= self.limit


def row(
    scenario: str,
    side: str,
    pod: str,
    old: Release,
    new: Release,
    limit: int | None = None,
    why: str = "",
) -> Row:
    fetched = new_blobs(old, new)
    unc = [b.uncompressed for b in fetched]
    return Row(
        scenario,
        side,
        pod,
        sum(b.size for b in fetched),
        None if None in unc else sum(u for u in unc if u is not None),
        new.size,
        new.uncompressed,
        len(new.layers),
        limit,
        why,
    )


def human(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 1000:
        return f"{n} B"
    return f"{n / 1000:,.1f} kB" if n < MB else f"{n / MB:,.1f} MB"


def verdict(r: Row) -> str:
    if r.met is None:
        return ""
    return f"{'met' if r.met else 'MISSED'} (at most {human(r.limit)}: {r.why})"


def console_lines(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        share = f"{100 * r.download / r.size:.1f}% of {human(r.size)}" if r.size else "-"
        out.append(
            f"{r.scenario:8} {r.side:8} {r.pod:14} download {human(r.download):>11} ({share}; "
            f"uncompressed {human(r.download_uncompressed)}), {r.layers} layers  {verdict(r)}".rstrip()
        )
    return out


def target_lines(rows: list[Row]) -> list[str]:
    return [
        f"target {r.scenario} {r.pod}: {human(r.download)} -> {verdict(r)}" for r in rows if r.met is not None
    ]


def markdown_section(run: dict) -> str:
    out = [
        *run_header(run),
        f"- ours: {', '.join(run['pods'])}; baseline (plain `podman build`, layers as built): "
        f"{', '.join(run['baseline_pods'])}",
        "",
    ]
    for scenario in run["scenarios"]:
        out += [f"### {scenario['title']}", "", scenario["change"], ""]
        if scenario.get("diff"):
            out += ["`pods diff` of the pod changed, between the two releases in the registry:", ""]
            out += ["```", scenario["diff"], "```", ""]
        out += [
            "| side | pod | download (compressed) | share of the pod | uncompressed | layers | target |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for r in (r for r in run["rows"] if r["scenario"] == scenario["name"]):
            share = f"{100 * r['download'] / r['size']:.1f}% of {human(r['size'])}" if r["size"] else "-"
            target = verdict(Row(**r)) or "-"
            out.append(
                f"| {r['side']} | {r['pod']} | {human(r['download'])} | {share} | "
                f"{human(r['download_uncompressed'])} | {r['layers']} | {target} |"
            )
        out.append("")
    if run.get("layers"):
        out += [
            "Layers per pod (ours, last release): " + ", ".join(f"{p} {n}" for p, n in run["layers"].items()),
            "",
        ]
    out += ["Registry storage (each blob once):", ""]
    out += [f"- {line}" for line in run["storage"]]
    out += ["", "Targets, as the bench printed them:", ""]
    out += [f"    {line}" for line in run["targets"]] or ["    (no target scenario ran)"]
    return "\n".join(out) + "\n"
