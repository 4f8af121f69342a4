-- "Renamed?" (case B18): pairs of a KPI's metric name and an unmapped metric name that look alike
-- (macros/names.sql) where the unmapped one started arriving after the KPI's metrics stopped: its first row is
-- later than the KPI's last row, and it comes from a source that fed the KPI (any source when the KPI has no
-- row at all). Such a KPI is `unfed` (cause metric_renamed) and the unmapped metric points back at it.

with

mappings as (

    select distinct metric_mappings.kpi_id, metric_mappings.metric_name
    from {{ ref('int_kpi_metrics_as_of') }} as metric_mappings
    inner join {{ ref('int_kpis_as_of') }} as kpis
        on kpis.kpi_id = metric_mappings.kpi_id
    where metric_mappings.metric_name is not null

),

feeds as (

    select kpi_id, last_row_date from {{ ref('int_kpi_feeds') }}

),

unmapped as (

    select * from {{ ref('int_unmapped_metrics') }}

),

metric_summary as (

    select metric_name, source_name from {{ ref('int_metric_summary') }}

),

final as (

    select distinct
        mappings.kpi_id,
        mappings.metric_name as kpi_metric_name,
        unmapped.metric_name,
        unmapped.source_name,
        unmapped.first_row_date,
        feeds.last_row_date as kpi_last_row_date
    from mappings
    inner join feeds
        on feeds.kpi_id = mappings.kpi_id
    inner join unmapped
        on {{ kpi_alignment.names_look_alike('mappings.metric_name', 'unmapped.metric_name') }}
    where feeds.last_row_date is null
        or (
            unmapped.first_row_date > feeds.last_row_date
            and exists (
                select 1
                from metric_summary
                inner join mappings as kpi_metrics
                    on kpi_metrics.metric_name = metric_summary.metric_name
                where kpi_metrics.kpi_id = mappings.kpi_id
                    and metric_summary.source_name = unmapped.source_name
            )
        )

)

select * from final
