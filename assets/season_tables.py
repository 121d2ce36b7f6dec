"""Writing one season of a raw table from Dagster: atomic replace, row-level checks, metadata."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from ingest.nflverse import Loaded
from orchestration.resources import Warehouse
from warehouse import replace_partition


@dataclass(frozen=True)
class RowCheck:
    """An asset check stated as SQL counting the season's violating rows (bound to `$season`)."""

    name: str
    description: str
    violations_sql: str

    def spec(self, asset: dg.AssetKey) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(self.name, asset=asset, description=self.description)


def season_of(context: dg.AssetExecutionContext) -> int:
    return int(context.partition_key)


def write_season(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    table: str,
    loaded: Loaded,
    checks: list[RowCheck],
    preview_columns: list[str],
) -> dg.MaterializeResult:
    """Replace the partition's season in `table`, then evaluate `checks` on what was written."""
    season = season_of(context)
    with warehouse.connect() as con:
        written = replace_partition(con, table, loaded.rows, season=season)
        results = []
        for check in checks:
            violations = con.execute(check.violations_sql, {"season": season}).fetchone()[0]
            results.append(
                dg.AssetCheckResult(
                    check_name=check.name,
                    passed=violations == 0,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={"violations": violations},
                )
            )
        games = con.execute(
            f"select count(distinct game_id) from {table} where season = $season", {"season": season}
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
