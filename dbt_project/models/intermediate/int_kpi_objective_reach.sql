-- Which objectives each KPI reaches through live links: its own (kpi_distance 0) and those of its ancestor
-- KPIs (a KPI with a parent KPI is connected if its parent is), unless a retired KPI cuts the parent chain.
-- Only live links count, so every objective here is pursued and rolls up to a live strategic objective.

with

kpis as (

    select kpi_id, catalog_status from {{ ref('int_kpis_as_of') }}

),

ancestry as (

    select * from {{ ref('int_kpi_ancestors') }}

),

live_links as (

    select kpi_id, objective_id, strategic_objective_id
    from {{ ref('int_kpi_links_evaluated') }}
    where is_live
        and kpi_known

),

unblocked_ancestry as (

    select ancestry.kpi_id, ancestry.ancestor_kpi_id, ancestry.distance
    from ancestry
    where not exists (
        select 1
        from ancestry as on_the_way
        inner join kpis as retired_kpi
            on retired_kpi.kpi_id = on_the_way.ancestor_kpi_id
        where on_the_way.kpi_id = ancestry.kpi_id
            and on_the_way.distance between 1 and ancestry.distance
            and retired_kpi.catalog_status = 'retired'
    )

),

reached as (

    select
        unblocked_ancestry.kpi_id,
        live_links.objective_id,
        live_links.strategic_objective_id,
        unblocked_ancestry.distance as kpi_distance,
        unblocked_ancestry.ancestor_kpi_id as via_kpi_id,
        row_number() over (
            partition by unblocked_ancestry.kpi_id, live_links.objective_id
            order by unblocked_ancestry.distance
        ) as nearest
    from unblocked_ancestry
    inner join live_links
        on live_links.kpi_id = unblocked_ancestry.ancestor_kpi_id

)

select kpi_id, objective_id, strategic_objective_id, kpi_distance, via_kpi_id
from reached
where nearest = 1
