"""The dbt project as Dagster assets: raw sources → staging → intermediate → marts, one lineage per sport.

Each sport's models carry a dbt tag (`nfl`, `nba`; folder-level in dbt_project.yml) and get their own
@dbt_assets, so a sport builds without the other's raw tables. Both share the translator.
"""

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration.resources import Warehouse
from warehouse.dbt_sql import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    LIVE_FEATURES,
    ensure_manifest,
    live_features_sql,
)

SPORTS = ("nfl", "nba")
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class PlaycastDbtTranslator(DagsterDbtTranslator):
    """Asset keys are `[schema, table]` as in the warehouse, so raw sources join the ingest assets; each
    sport's models form the group `<sport>_features`; a test's description becomes its check's."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or "main"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        """dagster-dbt's check for a test, with the test's own description (a singular test's is in
        `dbt_project/tests/<sport>/_<sport>__tests.yml`), so the UI says what a failing check means."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        description = manifest["nodes"].get(unique_id, {}).get("description")
        return spec._replace(description=description) if spec is not None and description else spec

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        sport = next((s for s in SPORTS if s in dbt_resource_props.get("tags", [])), None)
        return f"{sport}_features" if sport else "features"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE
    )


for _sport in LIVE_FEATURES:  # render the live feature SQL with the project, so live runs find it ready
    live_features_sql(_sport)


def _with_row_counts(context: dg.AssetExecutionContext, events: Iterable, warehouse: Warehouse) -> Iterator:
    """The build's events, each model's output with its row count (`dagster/row_count`), once dbt has ended:
    it holds the DuckDB file until then. A failed build's events come first, then its error."""
    done, error = [], None
    try:
        done.extend(events)
    except Exception as failure:  # dbt's error, raised after its last event
        error = failure
    counts = {}
    outputs = [event.output_name for event in done if isinstance(event, dg.Output)]
    if outputs:
        with warehouse.connect(read_only=True) as con:
            for name in outputs:
                schema, table = context.asset_key_for_output(name).path
                counts[name] = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
    for event in done:
        if isinstance(event, dg.Output):
            event = event.with_metadata({**event.metadata, "dagster/row_count": counts[event.output_name]})
        yield event
    if error is not None:
        raise error


def sport_dbt_assets(sport: str) -> dg.AssetsDefinition:
    """`dbt build` of the models, tests and source tests tagged `sport`."""

    @dbt_assets(
        manifest=ensure_manifest(),
        project=dbt_project,
        select=f"tag:{sport}",
        name=f"{sport}_dbt_models",
        # source tests (on raw.*) show up as checks of the raw ingest assets
        dagster_dbt_translator=PlaycastDbtTranslator(
            DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
        ),
        pool="warehouse",
    )
    def models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse) -> Iterator:
        os.environ["PLAYCAST_WAREHOUSE"] = warehouse.path  # dbt's profile reads it; dbt runs as a subprocess
        colors = [] if sys.stdout.isatty() else ["--no-use-colors"]  # not into a pipe or a run's log file
        yield from _with_row_counts(context, dbt.cli(["build", *colors], context=context).stream(), warehouse)

    models.__doc__ = f"`dbt build --select tag:{sport}` over the warehouse of the `warehouse` resource."
    return models


nfl_dbt_models = sport_dbt_assets("nfl")
nba_dbt_models = sport_dbt_assets("nba")


def source_checks(models: dg.AssetsDefinition) -> dg.AssetSelection:
    """dbt's source tests: checks on the raw assets, run by `dbt build`; ingest runs leave them out."""
    return dg.AssetSelection.checks(*(k for k in models.check_keys if k.asset_key.path[0] == "raw"))


def features_selection(models: dg.AssetsDefinition) -> dg.AssetSelection:
    """What a features job runs: the sport's dbt models with their tests and its source tests."""
    return dg.AssetSelection.assets(models) | source_checks(models)


dbt_source_checks = source_checks(nfl_dbt_models) | source_checks(nba_dbt_models)
