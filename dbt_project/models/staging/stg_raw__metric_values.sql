-- Metric values from every long/wide source, in the metric shape (docs/architecture.md) plus provenance.
-- One row per (source, metric, date, dimension): when later files restate a value, the latest load wins
-- (then the later file name, then the later line), and n_versions says how many rows were seen.

with

metric_values as (

    select * from {{ source('raw', 'metric_values') }}

),

renamed as (

    select
        source_name,
        {{ kpi_alignment.normalize_id('metric_name') }} as metric_name,
        cast(period_date as date) as period_date,
        coalesce({{ kpi_alignment.normalize_id('dimension') }}, '*') as dimension,
        cast(value as {{ kpi_alignment.type_double() }}) as value,
        cast(target_value as {{ kpi_alignment.type_double() }}) as target_value,
        source_file,
        file_hash,
        source_row,
        load_id,
        loaded_at
    from metric_values

),

ranked as (

    select
        *,
        row_number() over (
            partition by source_name, metric_name, period_date, dimension
            order by loaded_at desc, source_file desc, source_row desc
        ) as version_rank,
        count(*) over (partition by source_name, metric_name, period_date, dimension) as n_versions
    from renamed

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
    n_versions
from ranked
where version_rank = 1
