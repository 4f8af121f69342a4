-- One row per objective: measured | unmeasured | inactive on the evaluation date, counting live KPIs (connected
-- and with data) linked directly and through child objectives. Rules in _marts.yml.

with

objectives as (

    select * from {{ ref('int_objectives_resolved') }}

),

paths as (

    select * from {{ ref('int_objective_paths') }}

),

ancestors as (

    select * from {{ ref('int_objective_ancestors') }}

),

kpis as (

    select kpi_id, status, has_data, is_live from {{ ref('int_kpi_alignment_evaluated') }}

),

links as (

    select * from {{ ref('int_kpi_links_evaluated') }}

),

live_reach as (

    select reach.kpi_id, reach.objective_id
    from {{ ref('int_kpi_objective_reach') }} as reach
    inner join kpis
        on kpis.kpi_id = reach.kpi_id
    where kpis.is_live

),

-- a KPI reaching an objective also measures every ancestor of that objective
rolled_up as (

    select
        ancestors.ancestor_objective_id as objective_id,
        live_reach.kpi_id,
        min(ancestors.distance) as distance
    from live_reach
    inner join ancestors
        on ancestors.objective_id = live_reach.objective_id
    group by ancestors.ancestor_objective_id, live_reach.kpi_id

),

live_counts as (

    select
        objective_id,
        count(case when distance = 0 then 1 end) as n_live_kpis_direct,
        count(*) as n_live_kpis_total,
        {{ dbt.listagg('kpi_id', "', '", 'order by kpi_id') }} as live_kpi_ids
    from rolled_up
    group by objective_id

),

linked_not_live as (

    select
        objective_id,
        {{ dbt.listagg(
            "kpi_id || ' (' || case when status = 'connected' then 'no data' else status end || ')'",
            "', '", 'order by kpi_id') }} as not_live_kpis
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
        coalesce(live_counts.n_live_kpis_direct, 0) as n_live_kpis_direct,
        coalesce(live_counts.n_live_kpis_total, 0) as n_live_kpis_total,
        live_counts.live_kpi_ids,
        linked_not_live.not_live_kpis,
        case
            when paths.break_code in (
                'objective_retired', 'objective_achieved', 'objective_status_unknown',
                'objective_not_started', 'objective_time_frame_ended'
            ) then 'inactive'
            when coalesce(live_counts.n_live_kpis_total, 0) > 0 then 'measured'
            else 'unmeasured'
        end as status
    from objectives
    inner join paths
        on paths.objective_id = objectives.objective_id
    left join live_counts
        on live_counts.objective_id = objectives.objective_id
    left join linked_not_live
        on linked_not_live.objective_id = objectives.objective_id

),

final as (

    select
        cast(objective_id as {{ dbt.type_string() }}) as objective_id,
        cast(name as {{ dbt.type_string() }}) as name,
        cast(level as {{ dbt.type_string() }}) as level,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(case
            when status = 'measured' then 'measured'
            when status = 'inactive' then break_code
            when break_code is not null then break_code
            else 'no_live_kpi'
        end as {{ dbt.type_string() }}) as cause_code,
        cast(
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
                else ' is an active ' || coalesce(level, '') || ' objective with no connected KPI with data,'
                    || ' directly or through child objectives'
                    || coalesce('; its chain reaches no live strategic objective: ' || break_text, '')
                    || coalesce('; linked KPIs that are not live: ' || not_live_kpis, '')
            end
            || '.'
        as {{ dbt.type_string() }}) as cause_text,
        cast(n_live_kpis_direct as {{ dbt.type_bigint() }}) as n_live_kpis_direct,
        cast(n_live_kpis_total as {{ dbt.type_bigint() }}) as n_live_kpis_total,
        cast(live_kpi_ids as {{ dbt.type_string() }}) as live_kpi_ids,
        cast(parent_objective_id as {{ dbt.type_string() }}) as parent_objective_id,
        cast(strategic_objective_id as {{ dbt.type_string() }}) as strategic_objective_id,
        cast(reaches_live_strategic as boolean) as reaches_live_strategic,
        cast(owner as {{ dbt.type_string() }}) as owner,
        cast(evaluation_date as date) as evaluation_date
    from classified

)

select * from final
