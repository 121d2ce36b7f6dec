"""DuckDB warehouse access: where the file lives, how to open it politely, how to replace a partition."""

from warehouse.connection import WarehouseBusyError, connect, warehouse_path
from warehouse.partitions import replace_partition

__all__ = ["WarehouseBusyError", "connect", "replace_partition", "warehouse_path"]
