{#
    Custom schema names are used verbatim (staging, intermediate, marts, snapshots, project) instead of dbt's
    default <target_schema>_<custom>, because other layers (report, BI readers, Dagster) address
    marts.<table> by name (docs/architecture.md). Nodes without a custom schema use the target schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
