"""One markdown table for all benchmarks: each script ends by printing its rows in one shape.

``benchmarks/report.py`` runs the scripts and gathers the rows after :data:`MARK` into a single
table, every figure beside the baseline measured in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

MARK = "<!-- benchmark rows -->"
HEADER = ("| what | hub | same-run baseline | target | met | script |\n"
          "|---|---|---|---|---|---|")


@dataclass(frozen=True)
class Row:
    what: str
    hub: str
    baseline: str
    target: str
    met: bool | None  # None: a figure with no target
    script: str

    def markdown(self) -> str:
        met = {True: "yes", False: "**no**", None: "—"}[self.met]
        cells = (self.what, self.hub, self.baseline or "—", self.target or "—", met, f"`{self.script}`")
        return "| " + " | ".join(cells) + " |"


def emit(rows: list[Row]) -> None:
    """Print the rows after the mark, for report.py (and readable on their own)."""
    print()
    print(MARK)
    print(HEADER)
    for row in rows:
        print(row.markdown(), flush=True)


def collect(output: str) -> list[str]:
    """The row lines a script printed after the mark (its header left out)."""
    _, found, after = output.partition(MARK)
    if not found:
        return []
    lines = [line for line in after.splitlines() if line.startswith("| ")]
    return [line for line in lines if not line.startswith("| what |")]
