-- One row per objective of the catalog as of the evaluation: measured | stale | unmeasured | inactive on the
-- evaluation date, counting the KPIs that reach it directly or through child objectives (a KPI reaching an
-- objective also reaches its ancestors). Rules in _intermediate.yml.

with

objectives as (

    select * from {{ ref('int_objectives_as_of') }}

),

paths as (

    select * from {{ ref('int_objective_paths') }}

),

ancestors as (

    select * from {{ ref('int_objective_ancestors') }}

),

kpis as (

    select kpi_id, status, is_live from {{ ref('int_kpi_alignment_evaluated') }}

),

links as (

    select * from {{ ref('int_kpi_links_evaluated') }}

),

-- KPIs reaching each objective through live links (own or a parent KPI's), with their status
kpi_reach as (

    select reach.kpi_id, reach.objective_id, kpis.status, kpis.is_live
    from {{ ref('int_kpi_objective_reach') }} as reach
    inner join kpis
        on kpis.kpi_id = reach.kpi_id
    where kpis.is_live or kpis.status = 'silent'

),

rolled_up as (

    select
        ancestors.ancestor_objective_id as objective_id,
        kpi_reach.kpi_id,
        kpi_reach.is_live,
        min(ancestors.distance) as distance
    from kpi_reach
    inner join ancestors
        on ancestors.objective_id = kpi_reach.objective_id
    group by ancestors.ancestor_objective_id, kpi_reach.kpi_id, kpi_reach.is_live

),

reach_counts as (

    select
        objective_id,
        count(case when is_live and distance = 0 then 1 end) as n_live_kpis_direct,
        count(case when is_live then 1 end) as n_live_kpis_total,
        {{ dbt.listagg('case when is_live then kpi_id end', "', '", 'order by kpi_id') }} as live_kpi_ids,
        count(case when not is_live then 1 end) as n_silent_kpis_total,
        {{ dbt.listagg('case when not is_live then kpi_id end', "', '", 'order by kpi_id') }} as silent_kpi_ids
    from rolled_up
    group by objective_id

),

linked_not_live as (

    select
        objective_id,
        {{ dbt.listagg("kpi_id || ' (' || status || ')'", "', '", 'order by kpi_id') }} as not_live_kpis
    from (
        select distinct
            ancestors.ancestor_objective_id as objective_id,
            kpis.kpi_id,
            kpis.status
        from links
        inner join kpis
            on kpis.kpi_id = links.kpi_id
        inner join ancestors
            on ancestors.objective_id = links.objective_id
        where links.objective_known
            and not links.informational
            and not kpis.is_live
    ) as linked
    group by objective_id

),

classified as (

    select
        objectives.objective_id,
        objectives.name,
        objectives.level,
        objectives.owner,
        objectives.parent_objective_id,
        paths.evaluation_date,
        paths.reaches_live_strategic,
        paths.strategic_objective_id,
        paths.break_code,
        paths.break_objective_id,
        paths.break_text,
        paths.not_live_reason,
        coalesce(reach_counts.n_live_kpis_direct, 0) as n_live_kpis_direct,
        coalesce(reach_counts.n_live_kpis_total, 0) as n_live_kpis_total,
        reach_counts.live_kpi_ids,
        coalesce(reach_counts.n_silent_kpis_total, 0) as n_silent_kpis_total,
        reach_counts.silent_kpi_ids,
        linked_not_live.not_live_kpis,
        -- first match: not pursued (itself or an objective above it); a live KPI below; only silent KPIs below
        case
            when paths.break_code in (
                'objective_retired', 'objective_achieved', 'objective_status_unknown',
                'objective_not_started', 'objective_time_frame_ended'
            ) then 'inactive'
            when coalesce(reach_counts.n_live_kpis_total, 0) > 0 then 'measured'
            when coalesce(reach_counts.n_silent_kpis_total, 0) > 0 then 'stale'
            else 'unmeasured'
        end as status
    from objectives
    inner join paths
        on paths.objective_id = objectives.objective_id
    left join reach_counts
        on reach_counts.objective_id = objectives.objective_id
    left join linked_not_live
        on linked_not_live.objective_id = objectives.objective_id

),

final as (

    select
        objective_id,
        name,
        level,
        owner,
        parent_objective_id,
        status,
        case
            when status = 'measured' then 'measured'
            when status = 'stale' then 'only_silent_kpis'
            when status = 'inactive' then break_code
            when break_code is not null then break_code
            else 'no_live_kpi'
        end as cause_code,
        {{ kpi_alignment.label('objective_id', 'name') }}
        || case
            when status = 'inactive' and break_objective_id = objective_id
                then ' is not pursued on ' || cast(evaluation_date as {{ dbt.type_string() }}) || ': it '
                    || not_live_reason
            when status = 'inactive'
                then ' is not pursued on ' || cast(evaluation_date as {{ dbt.type_string() }})
                    || ' because an objective above it is not: ' || break_text
            when status = 'measured'
                then ' is measured by ' || cast(n_live_kpis_total as {{ dbt.type_string() }})
                    || ' live KPI(s) (' || cast(n_live_kpis_direct as {{ dbt.type_string() }})
                    || ' linked directly): ' || live_kpi_ids
            when status = 'stale'
                then ' is measured only by silent KPIs, whose values stopped arriving: ' || silent_kpi_ids
            else ' is an active ' || coalesce(level, '') || ' objective with no connected KPI with data,'
                || ' directly or through child objectives'
                || coalesce('; its chain reaches no live strategic objective: ' || break_text, '')
                || coalesce('; linked KPIs that are not live: ' || not_live_kpis, '')
        end
        || '.' as cause_text,
        n_live_kpis_direct,
        n_live_kpis_total,
        live_kpi_ids,
        n_silent_kpis_total,
        silent_kpi_ids,
        strategic_objective_id,
        reaches_live_strategic,
        evaluation_date
    from classified

)

select * from final
