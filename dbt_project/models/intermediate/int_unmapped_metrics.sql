-- Metric names arriving in the data (int_metric_summary, up to the evaluation date) that no KPI of the catalog
-- as of the evaluation claims in any role: typically a new metric nobody catalogued, or the new half of an
-- upstream rename (case B18: net_revenue arrives, the KPI still maps revenue). One row per (metric, source).
-- NOT EXISTS, never NOT IN: one null in the mapping must not hide every unmapped metric (case B28).

with

metric_summary as (

    select * from {{ ref('int_metric_summary') }}

),

claims as (

    select metric_mappings.metric_name
    from {{ ref('int_kpi_metrics_as_of') }} as metric_mappings
    inner join {{ ref('int_kpis_as_of') }} as kpis
        on kpis.kpi_id = metric_mappings.kpi_id
    where metric_mappings.metric_name is not null

),

final as (

    select metric_summary.*
    from metric_summary
    where not exists (
        select 1 from claims where claims.metric_name = metric_summary.metric_name
    )

)

select * from final
