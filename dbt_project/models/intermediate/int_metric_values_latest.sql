{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() %}{{ kpi_alignment.metric_value_partitions_to_refresh() }}{% endif %}",
        "{% if is_incremental() %}{{ kpi_alignment.delete_metric_value_partitions_to_refresh() }}{% endif %}",
    ],
) }}
-- The latest version of every metric value: one row per (source, metric, date, dimension). When later files
-- restate a value the latest load wins (then the later file name, then the later line); n_versions says how many
-- rows were seen. Incremental (issue 8: a nightly run must not re-rank all history): the pre-hooks pick the
-- partitions (source, metric, date) that loads since the last build touched and delete them; this recomputes
-- exactly those from every version in raw (macros/metric_values_refresh.sql). --full-refresh rebuilds it all.

with

metric_values as (

    select versions.*
    from {{ ref('stg_raw__metric_values') }} as versions
    {%- if is_incremental() %}
    where exists (
        select 1
        from metric_value_partitions_to_refresh as refresh
        where refresh.source_name is not distinct from versions.source_name
            and refresh.metric_name is not distinct from versions.metric_name
            and refresh.period_date is not distinct from versions.period_date
    )
    {%- endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by source_name, metric_name, period_date, dimension
            order by loaded_at desc, source_file desc, source_row desc
        ) as version_rank,
        count(*) over (partition by source_name, metric_name, period_date, dimension) as n_versions
    from metric_values

)

select
    metric_name,
    period_date,
    dimension,
    value,
    target_value,
    source_name,
    source_file,
    file_hash,
    source_row,
    load_id,
    loaded_at,
    n_versions,
    -- when this row was (re)computed: the data tests check only what the latest build wrote
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) as refreshed_at
from ranked
where version_rank = 1
