-- One row per KPI: its alignment status on the evaluation date and the cause, in words.
-- Rules (first that applies): retired -> connected (a live link of its own, or through its parent KPI chain)
-- -> orphaned (no counted link and no parent KPI) -> disconnected. Details in _intermediate.yml.
-- Later statuses (silent, unfed) slot into the `status` case below before `connected`.

with

kpis as (

    select * from {{ ref('int_kpis_resolved') }}

),

run_context as (

    select evaluation_date from {{ ref('stg_catalog__run_context') }}

),

links as (

    select
        *,
        -- which broken link names the cause when several do: the nearest to working first; null = not broken
        case
            when link_state in ('live', 'informational', 'no_objective_id') then null
            when link_state = 'link_expired' then 1
            when link_state = 'link_not_yet_valid' then 2
            when link_state = 'unknown_objective' then 3
            when link_state = 'objective_retired' then 4
            when link_state = 'objective_achieved' then 5
            when link_state = 'objective_time_frame_ended' then 6
            when link_state = 'objective_not_started' then 7
            when link_state = 'objective_status_unknown' then 8
            when link_state = 'missing_parent_objective' then 9
            when link_state = 'no_strategic_objective' then 10
            when link_state = 'objective_cycle' then 11
            else 12
        end as break_rank
    from {{ ref('int_kpi_links_evaluated') }}
    where kpi_known

),

ancestry as (

    select * from {{ ref('int_kpi_ancestors') }}

),

values_summary as (

    select
        kpi_id,
        max(period_start) as last_period_start,
        count(*) as n_periods_with_data
    from {{ ref('int_kpi_values_by_period') }}
    cross join run_context
    -- data for periods after the evaluation date do not count (evaluating a past date sees the past)
    where dimension = '*'
        and actual_value is not null
        and period_start <= run_context.evaluation_date
    group by kpi_id

),

own_links as (

    select
        kpi_id,
        count(objective_id) as n_links,
        count(case when objective_id is null then 1 end) as n_links_without_objective,
        count(case when link_state = 'informational' then 1 end) as n_informational_links,
        count(case when is_active then 1 end) as n_active_links,
        count(case when is_live then 1 end) as n_live_links,
        {{ dbt.listagg("case when is_live then link_text end", "'; '", "order by link_key") }} as live_link_text,
        {{ dbt.listagg("case when break_rank is not null then link_text end", "'; '", "order by break_rank, link_key") }}
            as broken_link_text,
        {{ dbt.listagg("case when link_state = 'informational' then link_text end", "'; '", "order by link_key") }}
            as informational_link_text,
        {{ dbt.listagg(
            "nullif(substring(
                coalesce('; link KPI id ''' || kpi_id_as_written || ''' read as ''' || kpi_id || ''' ('
                    || kpi_id_cleanup_reason || ')', '')
                || coalesce('; link objective id ''' || objective_id_as_written || ''' read as '''
                    || objective_id || ''' (' || objective_id_cleanup_reason || ')', '')
                from 3), '')",
            "'; '", "order by link_key") }} as link_cleanup_text
    from links
    group by kpi_id

),

primary_break as (

    select kpi_id, link_state as break_code
    from (
        select
            kpi_id,
            link_state,
            row_number() over (partition by kpi_id order by break_rank, link_key) as pick
        from links
        where break_rank is not null
    ) as ranked
    where pick = 1

),

reach as (

    select * from {{ ref('int_kpi_objective_reach') }}

),

reached_strategic as (

    select
        kpi_id,
        {{ dbt.listagg('strategic_objective_id', "', '", 'order by strategic_objective_id') }} as strategic_objective_ids
    from (select distinct kpi_id, strategic_objective_id from reach) as strategic
    group by kpi_id

),

kpi_state as (

    select
        kpis.*,
        coalesce(own_links.n_links, 0) as n_links,
        coalesce(own_links.n_links_without_objective, 0) as n_links_without_objective,
        coalesce(own_links.n_informational_links, 0) as n_informational_links,
        coalesce(own_links.n_active_links, 0) as n_active_links,
        coalesce(own_links.n_live_links, 0) as n_live_links,
        own_links.live_link_text,
        own_links.broken_link_text,
        own_links.informational_link_text,
        own_links.link_cleanup_text,
        primary_break.break_code
    from kpis
    left join own_links
        on own_links.kpi_id = kpis.kpi_id
    left join primary_break
        on primary_break.kpi_id = kpis.kpi_id

),

-- the nearest ancestor KPI with a live link of its own, with no retired KPI on the way (int_kpi_objective_reach)
connected_ancestor as (

    select kpi_id, via_kpi_id as ancestor_kpi_id
    from (
        select
            kpi_id,
            via_kpi_id,
            row_number() over (partition by kpi_id order by kpi_distance, via_kpi_id) as pick
        from reach
        where kpi_distance >= 1
    ) as ranked
    where pick = 1

),

-- why the parent chain does not carry alignment: the closest retired ancestor, a cycle, or the parent itself
parent_problem as (

    select
        kpi_state.kpi_id,
        (select max(n_visits) from ancestry where ancestry.kpi_id = kpi_state.kpi_id) > 1 as in_cycle,
        (
            select min(ancestry.distance)
            from ancestry
            inner join kpis as retired_kpi
                on retired_kpi.kpi_id = ancestry.ancestor_kpi_id
            where ancestry.kpi_id = kpi_state.kpi_id
                and ancestry.distance >= 1
                and retired_kpi.catalog_status = 'retired'
        ) as retired_distance
    from kpi_state
    where kpi_state.parent_kpi_id is not null

),

retired_ancestor as (

    select
        parent_problem.kpi_id,
        parent_problem.in_cycle,
        retired_kpi.kpi_id as retired_kpi_id,
        retired_kpi.kpi_name as retired_kpi_name
    from parent_problem
    left join ancestry
        on ancestry.kpi_id = parent_problem.kpi_id
        and ancestry.distance = parent_problem.retired_distance
    left join kpis as retired_kpi
        on retired_kpi.kpi_id = ancestry.ancestor_kpi_id

),

classified as (

    select
        kpi_state.*,
        run_context.evaluation_date,
        values_summary.last_period_start,
        coalesce(values_summary.n_periods_with_data, 0) as n_periods_with_data,
        values_summary.kpi_id is not null as has_data,
        connected_ancestor.ancestor_kpi_id as connected_via_kpi_id,
        reached_strategic.strategic_objective_ids,
        retired_ancestor.in_cycle,
        retired_ancestor.retired_kpi_id,
        retired_ancestor.retired_kpi_name,
        parent.kpi_name as parent_kpi_name,
        parent.broken_link_text as parent_broken_link_text,
        parent.n_links as parent_n_links,
        case
            when kpi_state.catalog_status = 'retired' then 'retired'
            when kpi_state.n_live_links > 0 then 'connected'
            when connected_ancestor.ancestor_kpi_id is not null then 'connected'
            when kpi_state.parent_kpi_id is null and kpi_state.n_links = kpi_state.n_informational_links
                then 'orphaned'
            else 'disconnected'
        end as status
    from kpi_state
    cross join run_context
    left join values_summary
        on values_summary.kpi_id = kpi_state.kpi_id
    left join connected_ancestor
        on connected_ancestor.kpi_id = kpi_state.kpi_id
    left join reached_strategic
        on reached_strategic.kpi_id = kpi_state.kpi_id
    left join retired_ancestor
        on retired_ancestor.kpi_id = kpi_state.kpi_id
    left join kpi_state as parent
        on parent.kpi_id = kpi_state.parent_kpi_id

),

caused as (

    select
        *,
        case
            when status = 'retired' then 'kpi_retired'
            when status = 'connected' and n_live_links > 0 then 'connected'
            when status = 'connected' then 'connected_via_parent_kpi'
            when status = 'orphaned' and n_links = 0 then 'no_link'
            when status = 'orphaned' then 'only_informational_links'
            when break_code is not null then break_code
            when parent_kpi_id is not null and not parent_known then 'unknown_parent_kpi'
            when retired_kpi_id is not null then 'parent_kpi_retired'
            when in_cycle then 'kpi_parent_cycle'
            else 'parent_kpi_not_connected'
        end as cause_code
    from classified

),

final as (

    select
        caused.kpi_id,
        caused.kpi_name,
        caused.owner,
        caused.status,
        caused.cause_code,
        {{ kpi_alignment.label('caused.kpi_id', 'caused.kpi_name') }}
        || case caused.cause_code
            when 'kpi_retired' then ' is retired in the catalog'
            when 'connected' then ' is connected: ' || caused.live_link_text
            when 'connected_via_parent_kpi' then ' is connected through its parent KPI chain: '
                || caused.connected_via_kpi_id || ' has a live link'
            when 'no_link' then ' has no link to any objective'
                || case when caused.n_links_without_objective > 0 then ' (its link row names no objective id)'
                    else '' end
            when 'only_informational_links' then ' has only informational links, which do not count: '
                || caused.informational_link_text
            when 'unknown_parent_kpi' then ' has no live link of its own and its parent KPI '''
                || caused.parent_kpi_id || ''' is not in the catalog'
            when 'parent_kpi_retired' then ' has no live link of its own and its parent KPI chain is cut: '
                || {{ kpi_alignment.label('caused.retired_kpi_id', 'caused.retired_kpi_name') }} || ' is retired'
            when 'kpi_parent_cycle' then ' has no live link of its own and its parent KPIs form a cycle'
            when 'parent_kpi_not_connected' then ' has no live link of its own and its parent KPI '
                || {{ kpi_alignment.label('caused.parent_kpi_id', 'caused.parent_kpi_name') }} || ' is not connected: '
                || coalesce(caused.parent_broken_link_text,
                    case when caused.parent_n_links = 0 then 'it has no link of its own'
                        else 'it has no live link' end)
            else ' reaches no live strategic objective: ' || caused.broken_link_text
        end
        || case
            when caused.status in ('orphaned', 'disconnected') and not caused.has_data then '; it has no data yet'
            else ''
        end
        || '.' as cause_text,
        caused.has_data,
        caused.last_period_start,
        caused.n_periods_with_data,
        caused.n_links,
        caused.n_active_links,
        caused.n_live_links,
        case when caused.status = 'connected' then caused.strategic_objective_ids end as strategic_objective_ids,
        caused.parent_kpi_id,
        case when caused.cause_code = 'connected_via_parent_kpi' then caused.connected_via_kpi_id end
            as connected_via_kpi_id,
        caused.id_cleanup_reason is not null
            or caused.parent_id_cleanup_reason is not null
            or caused.link_cleanup_text is not null as id_needed_cleanup,
        -- each clean-up note starts with '; ', the first is cut off
        nullif(substring(
            coalesce('; KPI id ''' || caused.kpi_id_as_written || ''' read as ''' || caused.kpi_id || ''' ('
                || caused.id_cleanup_reason || ')', '')
            || coalesce('; parent KPI id ''' || caused.parent_kpi_id_as_written || ''' read as '''
                || caused.parent_kpi_id || ''' (' || caused.parent_id_cleanup_reason || ')', '')
            || coalesce('; ' || caused.link_cleanup_text, '')
            from 3), '') as id_cleanup_text,
        caused.status = 'connected' and caused.has_data as is_live,
        caused.catalog_status,
        caused.origin,
        caused.evaluation_date
    from caused

)

select * from final
