-- Which source metric names feed which KPI, with the KPI reference resolved (macros/ids.sql), one row per
-- (KPI, metric name, role). metric_key names the row and is never null (case B17), so the mapping can be
-- snapshotted (snp_catalog__kpi_metrics).

with

kpi_metrics as (

    select * from {{ ref('stg_catalog__kpi_metrics') }}

),

resolved as (

    select distinct
        {{ kpi_alignment.resolve_id('kpi_metrics.kpi_id', ref('stg_catalog__kpis'), 'kpi_id') }} as kpi_id,
        kpi_metrics.metric_name,
        kpi_metrics.role
    from kpi_metrics

),

final as (

    select
        coalesce(kpi_id, '<no kpi id>')
            || ' <- ' || coalesce(metric_name, '<no metric name>')
            || ' as ' || coalesce(role, '<no role>') as metric_key,
        kpi_id,
        metric_name,
        role
    from resolved

)

select * from final
