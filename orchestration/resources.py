"""Dagster resources: the warehouse file and where source data comes from, set from the environment."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path

import dagster as dg
import duckdb

from warehouse import connect, warehouse_path


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file (`PLAYCAST_WAREHOUSE`, default `warehouse/playcast.duckdb`)."""

    path: str

    def connect(self, read_only: bool = False) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return connect(self.path, read_only=read_only)


class SourceData(dg.ConfigurableResource):
    """Where loaders read from: a local mirror folder (`PLAYCAST_DATA_MIRROR`), or the network when unset."""

    mirror: str | None = None

    @property
    def mirror_path(self) -> Path | None:
        return Path(self.mirror).expanduser().resolve() if self.mirror else None

    def describe(self) -> str:
        return f"mirror {self.mirror_path}" if self.mirror else "network"


class Kafka(dg.ConfigurableResource):
    """Kafka bootstrap servers (`PLAYCAST_KAFKA_BOOTSTRAP`, default 127.0.0.1:9092): any Kafka, or Tansu."""

    bootstrap: str


class ModelStore(dg.ConfigurableResource):
    """Folder of versioned model artifacts (`PLAYCAST_MODEL_STORE`, default `warehouse/model_store`)."""

    path: str


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources configured from the environment, as the code location and the CLI use them."""
    from assets.dbt import dbt_resource  # dagster-dbt is heavy; only the code location needs it
    from models.registry import model_store

    return {
        "warehouse": Warehouse(path=str(warehouse_path())),
        "model_store": ModelStore(path=str(model_store())),
        "source_data": SourceData(mirror=os.environ.get("PLAYCAST_DATA_MIRROR") or None),
        "dbt": dbt_resource(),
    }
