"""The tag and repository patterns that retention and immutability rules share."""

from fnmatch import fnmatchcase


def matches(patterns: str, value: str) -> bool:
    """Comma-separated globs, `!` before one to exclude what it matches: `*,!release-*` is every
    tag but releases. `*` matches across `/` too, so `**` and `*` both mean every path."""
    globs = [pattern.strip() for pattern in patterns.split(",") if pattern.strip()]
    included = any(fnmatchcase(value, glob) for glob in globs if not glob.startswith("!"))
    excluded = any(fnmatchcase(value, glob[1:]) for glob in globs if glob.startswith("!"))
    return included and not excluded


def normalised(patterns: str) -> str:
    """`v*, release-*` as `v*,release-*`, as rules are saved: matches splits on commas and ignores blanks."""
    return ",".join(pattern.strip() for pattern in patterns.split(",") if pattern.strip())
