{#
    Double-precision floating type. dbt.type_float() is FLOAT, which DuckDB reads as 4-byte REAL: a KPI value
    like 0.8027437 would lose digits, so every measure is cast through this instead.
#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'kpi_alignment')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}
