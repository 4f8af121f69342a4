{%- set max_depth = var('max_hierarchy_depth', 32) | int -%}
-- Every KPI (catalog as of the evaluation, int_kpis_as_of) with each of its ancestor KPIs through parent_kpi_id (itself at distance 0). Same walk as
-- int_objective_ancestors: known parents only, bounded depth, n_visits > 1 marks a cycle.

with recursive

kpis as (

    select kpi_id, parent_kpi_id, parent_known
    from {{ ref('int_kpis_as_of') }}

),

walk as (

    select
        kpi_id,
        kpi_id as ancestor_kpi_id,
        0 as distance
    from kpis

    union all

    select
        walk.kpi_id,
        kpis.parent_kpi_id as ancestor_kpi_id,
        walk.distance + 1 as distance
    from walk
    inner join kpis
        on kpis.kpi_id = walk.ancestor_kpi_id
    where kpis.parent_known
        and walk.distance < {{ max_depth }}

),

final as (

    select
        kpi_id,
        ancestor_kpi_id,
        min(distance) as distance,
        count(*) as n_visits
    from walk
    group by kpi_id, ancestor_kpi_id

)

select * from final
