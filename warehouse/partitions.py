"""Season-partitioned raw tables: replace one season's rows in one transaction."""

from __future__ import annotations

import duckdb
import pyarrow as pa


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def replace_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: pa.Table,
    *,
    season: int | str,
    season_column: str = "season",
) -> int:
    """Replace `table`'s rows of `season` with `rows`, atomically; returns the number of rows written.

    `season` is the partition's value in `season_column`: an int (NFL 2023) or a string (NBA '2024-25').

    The table is created from the first load's schema. Later loads may carry more columns (nflverse adds
    columns over the years, a full-schema file has more than a column subset): those are added, so every
    column a source has is kept; columns a load lacks are NULL for its rows.
    """
    schema, name = table.split(".")
    qualified = f"{_quote(schema)}.{_quote(name)}"
    con.register("_incoming", rows)
    try:
        con.execute("begin transaction")
        con.execute(f"create schema if not exists {_quote(schema)}")
        if not _table_exists(con, schema, name):
            con.execute(f"create table {qualified} as select * from _incoming limit 0")
        existing = {r[0] for r in con.execute(f"describe {qualified}").fetchall()}
        for column, dtype, *_ in con.execute("describe select * from _incoming").fetchall():
            if column not in existing:
                con.execute(f"alter table {qualified} add column {_quote(column)} {dtype}")
        con.execute(f"delete from {qualified} where {_quote(season_column)} = ?", [season])
        con.execute(f"insert into {qualified} by name select * from _incoming")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_incoming")
    return rows.num_rows
