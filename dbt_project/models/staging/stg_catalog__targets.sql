-- Per-period KPI targets from the YAML catalog ([period_start, period_end], inclusive dates).

with

targets as (

    select * from {{ source('catalog', 'targets') }}

),

renamed as (

    select
        {{ kpi_alignment.normalize_id('kpi_id') }} as kpi_id,
        kpi_id as kpi_id_as_written,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        lower(trim(target_type)) as target_type,
        cast(target_value as {{ kpi_alignment.type_double() }}) as target_value,
        cast(lower_value as {{ kpi_alignment.type_double() }}) as lower_value,
        cast(upper_value as {{ kpi_alignment.type_double() }}) as upper_value,
        cast(baseline_value as {{ kpi_alignment.type_double() }}) as baseline_value
    from targets

)

select * from renamed
