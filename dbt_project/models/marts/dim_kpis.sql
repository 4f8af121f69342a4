-- Every KPI of the catalog (YAML and source-derived), with the metric names feeding it.

with

kpis as (

    select * from {{ ref('stg_catalog__kpis') }}

),

resolved as (

    select * from {{ ref('int_kpis_resolved') }}

),

kpi_metrics as (

    select * from {{ ref('stg_catalog__kpi_metrics') }}

),

metric_lists as (

    select
        kpi_id,
        {{ dbt.listagg("case when role = 'value' then metric_name end", "', '", 'order by metric_name') }}
            as value_metrics,
        {{ dbt.listagg("case when role = 'numerator' then metric_name end", "', '", 'order by metric_name') }}
            as numerator_metrics,
        {{ dbt.listagg("case when role = 'denominator' then metric_name end", "', '", 'order by metric_name') }}
            as denominator_metrics
    from kpi_metrics
    group by kpi_id

),

final as (

    select
        cast(kpis.kpi_id as {{ dbt.type_string() }}) as kpi_id,
        cast(kpis.kpi_id_as_written as {{ dbt.type_string() }}) as kpi_id_as_written,
        cast(kpis.id_cleanup_reason is not null
            or resolved.parent_id_cleanup_reason is not null as boolean) as id_needed_cleanup,
        cast(kpis.kpi_name as {{ dbt.type_string() }}) as kpi_name,
        cast(kpis.description as {{ dbt.type_string() }}) as description,
        cast(kpis.unit as {{ dbt.type_string() }}) as unit,
        cast(kpis.direction as {{ dbt.type_string() }}) as direction,
        cast(kpis.aggregation as {{ dbt.type_string() }}) as aggregation,
        cast(kpis.grain as {{ dbt.type_string() }}) as grain,
        cast(kpis.owner as {{ dbt.type_string() }}) as owner,
        cast(kpis.catalog_status as {{ dbt.type_string() }}) as catalog_status,
        cast(coalesce(resolved.parent_kpi_id, kpis.parent_kpi_id) as {{ dbt.type_string() }}) as parent_kpi_id,
        cast(kpis.expected_within_days as integer) as expected_within_days,
        cast(metric_lists.value_metrics as {{ dbt.type_string() }}) as value_metrics,
        cast(metric_lists.numerator_metrics as {{ dbt.type_string() }}) as numerator_metrics,
        cast(metric_lists.denominator_metrics as {{ dbt.type_string() }}) as denominator_metrics,
        cast(kpis.origin as {{ dbt.type_string() }}) as origin,
        cast(kpis.source_name as {{ dbt.type_string() }}) as source_name,
        cast(kpis.catalog_file as {{ dbt.type_string() }}) as catalog_file,
        cast(kpis.n_definitions as integer) as n_definitions
    from kpis
    left join resolved
        on resolved.kpi_id = kpis.kpi_id
    left join metric_lists
        on metric_lists.kpi_id = kpis.kpi_id

)

select * from final
