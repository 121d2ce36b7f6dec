"""Writing one season of a raw table from Dagster: atomic replace, row-level checks, metadata."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from ingest.loaded import Loaded
from orchestration.resources import Warehouse
from warehouse import replace_partition

Season = int | str  # an NFL season is its start year; an NBA season a key like '2024-25'


@dataclass(frozen=True)
class RowCheck:
    """An asset check stated as SQL counting the season's violating rows (bound to `$season`).

    A `report_only` check always passes and only reports the count (a known property of the source).
    """

    name: str
    description: str
    violations_sql: str
    report_only: bool = False

    def spec(self, asset: dg.AssetKey) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(self.name, asset=asset, description=self.description)

    def result(self, violations: int) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            check_name=self.name,
            passed=self.report_only or violations == 0,
            severity=dg.AssetCheckSeverity.WARN if self.report_only else dg.AssetCheckSeverity.ERROR,
            metadata={"violations": violations},
        )


def season_of(context: dg.AssetExecutionContext) -> Season:
    """The partition's season: an int for year keys ('2023'), else the key itself ('2024-25')."""
    key = context.partition_key
    return int(key) if key.isdigit() else key


def write_season(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    table: str,
    loaded: Loaded,
    checks: list[RowCheck],
    preview_columns: list[str],
    game_column: str = "game_id",
) -> dg.MaterializeResult:
    """Replace the partition's season in `table`, then evaluate `checks` on what was written."""
    season = season_of(context)
    with warehouse.connect() as con:
        written = replace_partition(con, table, loaded.rows, season=season)
        results = [
            check.result(con.execute(check.violations_sql, {"season": season}).fetchone()[0])
            for check in checks
        ]
        games = con.execute(
            f'select count(distinct "{game_column}") from {table} where season = $season', {"season": season}
        ).fetchone()[0]
    context.log.info(f"{table} season {season}: {written} rows, {games} games from {loaded.source}")
    preview = loaded.rows.select([c for c in preview_columns if c in loaded.rows.column_names]).slice(0, 5)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "games": games,
            "columns": loaded.rows.num_columns,
            "source": loaded.source,
            "table": table,
            "preview": dg.MetadataValue.md(preview.to_pandas().to_markdown(index=False)),
        },
        check_results=results,
    )
