{{ config(materialized='view') }}
{%- set derived = kpi_alignment.derived_metric_models() -%}
-- All metric values in the metric shape (docs/architecture.md): int_metric_values_latest (raw.metric_values, the
-- latest version per key) plus every model named in var derived_metric_models (models of the project's models/
-- folder computing metrics from raw tables). A view: copying the history into another table every night is
-- what issue 8 removed. A derived model's null dimension becomes '*' so that no key part is null (case B17).

with

raw_metric_values as (

    select metric_name, period_date, dimension, value, target_value, source_name
    from {{ ref('int_metric_values_latest') }}

),
{% for model_name in derived %}
derived_{{ loop.index }} as (

    select
        {{ kpi_alignment.normalize_id('cast(metric_name as ' ~ dbt.type_string() ~ ')') }} as metric_name,
        cast(period_date as date) as period_date,
        coalesce({{ kpi_alignment.normalize_id('cast(dimension as ' ~ dbt.type_string() ~ ')') }}, '*') as dimension,
        cast(value as {{ kpi_alignment.type_double() }}) as value,
        cast(target_value as {{ kpi_alignment.type_double() }}) as target_value,
        cast(coalesce(source_name, '{{ model_name }}') as {{ dbt.type_string() }}) as source_name
    from {{ ref(model_name) }}

),
{% endfor %}
unioned as (

    select * from raw_metric_values
    {%- for model_name in derived %}
    union all
    select * from derived_{{ loop.index }}
    {%- endfor %}

)

select * from unioned
