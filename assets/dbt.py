"""The dbt project as Dagster assets: raw sources → staging → intermediate → marts, one lineage."""

import os
from collections.abc import Iterator, Mapping
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
from warehouse.dbt_sql import DBT_EXECUTABLE, DBT_PROJECT_DIR, ensure_manifest, live_nfl_features_sql

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class PlaycastDbtTranslator(DagsterDbtTranslator):
    """Asset keys are `[schema, table]` as in the warehouse, so raw sources join the ingest assets."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or "main"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "nfl_features" if "nfl" in dbt_resource_props["name"] else "features"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE
    )


live_nfl_features_sql()  # render the live feature SQL with the project, so live runs find it ready


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    # source tests (on raw.*) show up as checks of the raw ingest assets
    dagster_dbt_translator=PlaycastDbtTranslator(
        DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
    ),
    pool="warehouse",
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse) -> Iterator:
    """`dbt build` (models and their tests) over the warehouse the `warehouse` resource points at."""
    os.environ["PLAYCAST_WAREHOUSE"] = warehouse.path  # dbt's profile reads it; dbt runs as a subprocess
    yield from dbt.cli(["build"], context=context).stream()


# dbt's source tests are checks on the raw assets, run by `dbt build`; ingest runs leave them out
dbt_source_checks = dg.AssetSelection.checks(
    *(k for k in dbt_models.check_keys if k.asset_key.path[0] == "raw")
)
features_selection = dg.AssetSelection.assets(dbt_models) | dbt_source_checks
