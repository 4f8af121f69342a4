-- Every row of raw.metric_values (all versions: a value restated by a later file appears once per file) in the
-- metric shape plus provenance. int_metric_values_latest keeps the latest version per key, incrementally; this
-- view stays a plain rename so that reading the rows of a few partitions never costs a pass over all history.

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

)

select * from renamed
