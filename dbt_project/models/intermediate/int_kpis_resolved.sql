-- KPIs with an id and their parent-KPI reference resolved (macros/ids.sql).

with

kpis as (

    select * from {{ ref('stg_catalog__kpis') }}
    where kpi_id is not null

),

resolved as (

    select
        kpis.*,
        {{ kpi_alignment.resolve_id('kpis.parent_kpi_id_as_written', ref('stg_catalog__kpis'), 'kpi_id') }}
            as resolved_parent_kpi_id
    from kpis

),

final as (

    select
        resolved.kpi_id,
        resolved.kpi_id_as_written,
        resolved.id_cleanup_reason,
        resolved.kpi_name,
        resolved.description,
        resolved.unit,
        resolved.direction,
        resolved.aggregation,
        resolved.grain,
        resolved.owner,
        resolved.catalog_status,
        resolved.resolved_parent_kpi_id as parent_kpi_id,
        resolved.parent_kpi_id_as_written,
        resolved.parent_kpi_id is not null
            and exists (
                select 1 from kpis as parents where parents.kpi_id = resolved.resolved_parent_kpi_id
            ) as parent_known,
        {{ kpi_alignment.id_cleanup_reason('resolved.parent_kpi_id_as_written', 'resolved.resolved_parent_kpi_id') }}
            as parent_id_cleanup_reason,
        resolved.expected_within_days,
        resolved.origin,
        resolved.source_name,
        resolved.catalog_file,
        resolved.n_definitions
    from resolved

)

select * from final
