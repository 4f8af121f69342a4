"""Reading sources (CSV, HTTP) and the strategy catalog into DuckDB. Plain Python: no Dagster imports."""
