"""The geometry of the Usage tab's chart: daily snapshots as an inline SVG line, computed here so
the template only writes coordinates. No script, no external asset: it renders without JavaScript
and on a LAN without internet."""

from dataclasses import dataclass
from datetime import date, timedelta

from registry_ui.templatetags.sizes import binary_size
from v2api.models import ProjectUsageSnapshot

WIDTH = 720
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 76, 12, 12, 28


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    snapshot: ProjectUsageSnapshot


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class UsageChart:
    points: list[ChartPoint]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    # The quota's height when it is close enough to the usage to be worth drawing; None otherwise.
    quota_y: float | None
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    baseline: int = HEIGHT - BOTTOM

    @property
    def line(self) -> str:
        """The polyline's `points` attribute."""
        return " ".join(f"{point.x:.1f},{point.y:.1f}" for point in self.points)

    @property
    def area(self) -> str:
        """A closed path under the line, down to the baseline, for the fill."""
        if not self.points:
            return ""
        first, last = self.points[0], self.points[-1]
        return f"M{first.x:.1f},{self.baseline} L{self.line.replace(' ', ' L')} L{last.x:.1f},{self.baseline} Z"


def usage_chart(snapshots: list[ProjectUsageSnapshot], days: int, today: date, quota_bytes: int | None) -> UsageChart:
    """Place `snapshots` (oldest first, within the `days` days ending `today`) on a date axis.

    Days without a snapshot leave a longer segment, not a fake point. The scale is the largest
    total, or the quota when it is within twice that, so a project near its quota shows the line
    meeting it, while a far-off quota does not flatten the line.
    """
    first_day = today - timedelta(days=days - 1)
    largest = max((snapshot.total_bytes for snapshot in snapshots), default=0)
    scale = max(largest * 1.1, 1.0)
    if quota_bytes is not None and quota_bytes <= 2 * max(largest, 1):
        scale = max(scale, quota_bytes * 1.05)
    plot_width = WIDTH - RIGHT - LEFT
    plot_height = HEIGHT - BOTTOM - TOP

    def x_of(day: date) -> float:
        return LEFT + plot_width * (day - first_day).days / max(days - 1, 1)

    def y_of(value: float) -> float:
        return TOP + plot_height * (1 - value / scale)

    points = [ChartPoint(x_of(snapshot.date), y_of(snapshot.total_bytes), snapshot) for snapshot in snapshots]
    x_ticks = [
        Tick(x_of(day), day.strftime("%b %d"))
        for day in (first_day, first_day + timedelta(days=(days - 1) // 2), today)
    ]
    y_ticks = [Tick(y_of(scale * share), binary_size(int(scale * share))) for share in (0, 0.5, 1)]
    quota_y = y_of(quota_bytes) if quota_bytes is not None and quota_bytes <= scale else None
    return UsageChart(points=points, x_ticks=x_ticks, y_ticks=y_ticks, quota_y=quota_y)
