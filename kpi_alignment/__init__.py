"""kpi-alignment: link operational KPIs to strategic objectives, nightly, in DuckDB."""
