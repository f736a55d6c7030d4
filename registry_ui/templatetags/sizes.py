"""`{{ bytes|binary_size }}`: sizes as people read them, in powers of 1024 with IEC units (KiB,
MiB, GiB), the units `du -h` and the registry's own accounting use. Django's `filesizeformat`
also divides by 1024 but writes "KB"/"MB", which readers take for powers of 1000.

`{% grace_window %}`: the collector's grace window, stated wherever bytes freed are promised."""

from datetime import timedelta

from django import template

from v2api.services.garbage import grace_window as collection_grace

register = template.Library()

UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


@register.filter
def binary_size(value: int | None) -> str:
    """`512 bytes`, `1.5 KiB`, `23.4 MiB`; an empty string for None."""
    if value is None or value == "":
        return ""
    size = float(value)
    if abs(size) < 1024:
        count = int(size)
        return f"{count}\xa0byte{'' if count == 1 else 's'}"
    for unit in UNITS:
        size /= 1024
        if abs(size) < 1024 or unit == UNITS[-1]:
            break
    # A no-break space, as filesizeformat writes it: a size never wraps inside a table cell.
    return f"{size:.1f}\xa0{unit}"


@register.filter
def percent_of(part: int, whole: int) -> str:
    """`part` as a share of `whole`, for the width of a bar: "37.5" (never more than 100)."""
    if not whole:
        return "0"
    return f"{min(100.0, max(0.0, 100.0 * part / whole)):.1f}"


@register.filter
def grouped(value: int | None) -> str:
    """`1,234,567`: an exact byte count, readable."""
    return "" if value is None else f"{int(value):,}"


@register.filter
def exact_size(value: int | None) -> str:
    """`10 GiB` when a unit divides `value` exactly, else the byte count: what a size field shows
    so that submitting it unchanged keeps the same number (forms.parse_size reads it back)."""
    if value is None or value == "":
        return ""
    count = int(value)
    for power in range(len(UNITS), 0, -1):
        if count and count % 1024**power == 0:
            return f"{count // 1024**power} {UNITS[power - 1]}"
    return str(count)


@register.filter
def abs_value(value: int) -> int:
    """`{{ change|abs_value|binary_size }}`: the size of a decrease, after its own minus sign."""
    return abs(int(value))


@register.simple_tag
def grace_window() -> str:
    """`2 h`: the garbage collector's grace window (REGISTRY_GC_GRACE_SECONDS), as people read it."""
    return duration(collection_grace())


@register.filter
def span(value: timedelta) -> str:
    """`{{ interval|span }}`: `6 h`, as grace_window writes the collector's window."""
    return duration(value)


def duration(span: timedelta) -> str:
    """`2 h`, `90 min`, `1 d`, `45 s`: the largest unit that divides the span exactly."""
    seconds = int(span.total_seconds())
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds and seconds % length == 0:
            return f"{seconds // length}\xa0{unit}"
    return f"{seconds}\xa0s"
