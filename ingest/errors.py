"""Errors that name exactly what was wrong with a source."""


class SourceError(ValueError):
    """A source file or response is missing, unreadable or lacks what playcast needs."""


def require_columns(columns: list[str], required: tuple[str, ...], source: str) -> None:
    """Fail naming `source` and every required column it lacks."""
    missing = [c for c in required if c not in columns]
    if missing:
        raise SourceError(f"{source} lacks required column(s): {', '.join(missing)}")
