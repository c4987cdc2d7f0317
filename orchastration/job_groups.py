"""Group jobs (a job with ``depends_on`` and no command): the result a run reports for each one named
(docs/configuration.md, "Groups")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchastration.config import Config
    from orchastration.engine.units import UnitResult

_OK = ("ran", "skipped")


def group_results(
    config: Config, names: Sequence[str], results: Sequence[UnitResult], dry_run: bool
) -> list[UnitResult]:
    """A ``ran`` result for each group named in ``names`` whose jobs all succeeded (it has no record of
    its own); ``not_run`` naming the jobs that did not."""
    from orchastration.engine.units import UnitResult
    from orchastration.outcomes import UnitStatus

    by_name = {r.name: r for r in results}
    out = []
    for name in dict.fromkeys(names):
        group = config.groups.get(name)
        if group is None or not group.report:
            continue
        bad = [m for m in group.members if m not in by_name or by_name[m].status not in _OK]
        if dry_run:
            todo = any(by_name[m].status != UnitStatus.SKIPPED for m in group.members if m in by_name)
            status, message = (UnitStatus.NOT_RUN if todo else UnitStatus.SKIPPED), ""
        elif bad:
            status, message = UnitStatus.NOT_RUN, f"not run: group: {', '.join(bad)} did not succeed"
        else:
            status, message = UnitStatus.RAN, ""
        out.append(UnitResult(name, status, 0 if status == UnitStatus.RAN else None, 0, None, (), message))
    return out
