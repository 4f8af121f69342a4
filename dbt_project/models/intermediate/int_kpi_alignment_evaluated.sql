-- One row per KPI of the catalog as of the evaluation: its alignment status on the evaluation date and the
-- cause, as a code and as a sentence. The status is the one `case` in `classified` (precedence documented in
-- _intermediate.yml); causes follow in `caused`.

with

kpis as (

    select * from {{ ref('int_kpis_as_of') }}

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

feeds as (

    select * from {{ ref('int_kpi_feeds') }}

),

renames as (

    select
        kpi_id,
        count(*) as n_rename_candidates,
        {{ dbt.listagg(
            "'''' || metric_name || ''' (source ' || coalesce(source_name, 'unknown') || ', since '
                || cast(first_row_date as " ~ dbt.type_string() ~ ") || ')'",
            "', '", 'order by metric_name, source_name') }} as rename_candidates,
        {{ dbt.listagg("'''' || kpi_metric_name || ''''", "', '", 'order by kpi_metric_name') }}
            as renamed_metric_names
    from {{ ref('int_metric_rename_candidates') }}
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

joined as (

    select
        kpi_state.*,
        run_context.evaluation_date,
        kpi_state.n_live_links > 0 or connected_ancestor.ancestor_kpi_id is not null as reaches_objective,
        connected_ancestor.ancestor_kpi_id as connected_via_kpi_id,
        reached_strategic.strategic_objective_ids,
        retired_ancestor.in_cycle,
        retired_ancestor.retired_kpi_id,
        retired_ancestor.retired_kpi_name,
        parent.kpi_name as parent_kpi_name,
        parent.broken_link_text as parent_broken_link_text,
        parent.n_links as parent_n_links,
        feeds.n_metric_names,
        feeds.metric_names,
        feeds.missing_metric_names,
        feeds.source_names,
        feeds.n_metric_rows,
        feeds.n_metric_values,
        feeds.last_row_date,
        feeds.last_value_date,
        feeds.last_period_start,
        feeds.n_periods_with_data,
        feeds.grace_days,
        feeds.grace_origin,
        feeds.expected_period_start,
        feeds.expected_by,
        feeds.is_overdue,
        feeds.data_age_days,
        coalesce(renames.n_rename_candidates, 0) as n_rename_candidates,
        renames.rename_candidates,
        renames.renamed_metric_names
    from kpi_state
    cross join run_context
    left join feeds
        on feeds.kpi_id = kpi_state.kpi_id
    left join renames
        on renames.kpi_id = kpi_state.kpi_id
    left join connected_ancestor
        on connected_ancestor.kpi_id = kpi_state.kpi_id
    left join reached_strategic
        on reached_strategic.kpi_id = kpi_state.kpi_id
    left join retired_ancestor
        on retired_ancestor.kpi_id = kpi_state.kpi_id
    left join kpi_state as parent
        on parent.kpi_id = kpi_state.parent_kpi_id

),

classified as (

    select
        *,
        -- THE status rule, first match wins (see _intermediate.yml): the catalog says retired; the KPI reaches
        -- no live strategic objective (never linked -> orphaned, else disconnected); it reaches one but no source
        -- metric feeds it (unfed) or its latest value is overdue (silent); else connected.
        case
            when catalog_status = 'retired' then 'retired'
            when not reaches_objective and parent_kpi_id is null and n_links = n_informational_links
                then 'orphaned'
            when not reaches_objective then 'disconnected'
            when n_metric_names = 0 or n_metric_rows = 0 or n_rename_candidates > 0 then 'unfed'
            when is_overdue then 'silent'
            else 'connected'
        end as status
    from joined

),

caused as (

    select
        *,
        case
            when status = 'retired' then 'kpi_retired'
            when status = 'orphaned' and n_links = 0 then 'no_link'
            when status = 'orphaned' then 'only_informational_links'
            when status = 'disconnected' and break_code is not null then break_code
            when status = 'disconnected' and parent_kpi_id is not null and not parent_known then 'parent_kpi_missing'
            when status = 'disconnected' and retired_kpi_id is not null then 'parent_kpi_retired'
            when status = 'disconnected' and in_cycle then 'kpi_parent_cycle'
            when status = 'disconnected' then 'parent_kpi_not_connected'
            when status = 'unfed' and n_metric_names = 0 then 'no_metric_mapped'
            when status = 'unfed' and n_rename_candidates > 0 then 'metric_renamed'
            when status = 'unfed' then 'metric_not_in_data'
            when status = 'silent' and last_value_date is null then 'no_value'
            when status = 'silent' then 'value_overdue'
            when n_live_links > 0 then 'connected'
            else 'connected_via_parent_kpi'
        end as cause_code,
        -- how the KPI reaches its objectives, for the sentences of linked KPIs
        case
            when n_live_links > 0 then live_link_text
            else 'through its parent KPI chain: ' || connected_via_kpi_id || ' has a live link'
        end as reach_text
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
            when 'parent_kpi_missing' then ' has no live link of its own and its parent KPI '''
                || caused.parent_kpi_id || ''' is not in the catalog'
            when 'parent_kpi_retired' then ' has no live link of its own and its parent KPI chain is cut: '
                || {{ kpi_alignment.label('caused.retired_kpi_id', 'caused.retired_kpi_name') }} || ' is retired'
            when 'kpi_parent_cycle' then ' has no live link of its own and its parent KPIs form a cycle'
            when 'parent_kpi_not_connected' then ' has no live link of its own and its parent KPI '
                || {{ kpi_alignment.label('caused.parent_kpi_id', 'caused.parent_kpi_name') }} || ' is not connected: '
                || coalesce(caused.parent_broken_link_text,
                    case when caused.parent_n_links = 0 then 'it has no link of its own'
                        else 'it has no live link' end)
            when 'no_metric_mapped' then ' is linked (' || caused.reach_text
                || ') but unfed: no source metric is mapped to it (add metrics: to the KPI in the catalog)'
            when 'metric_not_in_data' then ' is linked (' || caused.reach_text
                || ') but unfed: no data row for its metric(s) ' || '''' || caused.metric_names || ''''
                || ' up to ' || cast(caused.evaluation_date as {{ dbt.type_string() }})
                || ' - is the mapping broken?'
            when 'metric_renamed' then ' is linked (' || caused.reach_text
                || ') but unfed: its metric ' || caused.renamed_metric_names
                || coalesce(' stopped arriving after ' || cast(caused.last_row_date as {{ dbt.type_string() }}),
                    ' has no data row')
                || ' and the unmapped metric ' || caused.rename_candidates
                || ' looks like it - renamed? Add the new name to the KPI''s metrics as an alias'
            when 'no_value' then ' is linked (' || caused.reach_text
                || ') but silent: its metric rows carry no value; the ' || caused.grain || ' starting '
                || cast(caused.expected_period_start as {{ dbt.type_string() }}) || ' was due by '
                || cast(caused.expected_by as {{ dbt.type_string() }})
            when 'value_overdue' then ' is linked (' || caused.reach_text
                || ') but silent: its latest value is for the ' || caused.grain || ' starting '
                || cast(caused.last_period_start as {{ dbt.type_string() }}) || '; the ' || caused.grain
                || ' starting ' || cast(caused.expected_period_start as {{ dbt.type_string() }})
                || ' was due by ' || cast(caused.expected_by as {{ dbt.type_string() }})
                || ' (' || cast(caused.grace_days as {{ dbt.type_string() }}) || ' days after the period ends, '
                || case when caused.grace_origin = 'kpi' then 'expected_within_days of the KPI'
                    else 'default for its grain' end || ')'
            else ' reaches no live strategic objective: ' || caused.broken_link_text
        end
        || case
            when caused.status in ('orphaned', 'disconnected') and caused.n_metric_values = 0
                then '; it has no data yet'
            else ''
        end
        || '.' as cause_text,
        caused.n_metric_values > 0 as has_data,
        caused.last_period_start,
        caused.n_periods_with_data,
        caused.n_links,
        caused.n_active_links,
        caused.n_live_links,
        case
            when caused.status in ('connected', 'silent', 'unfed') then caused.strategic_objective_ids
        end as strategic_objective_ids,
        caused.parent_kpi_id,
        case when caused.reaches_objective and caused.n_live_links = 0 then caused.connected_via_kpi_id end
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
        -- the one definition of a KPI that measures the objectives it reaches
        caused.status = 'connected' as is_live,
        caused.reaches_objective,
        caused.grain,
        caused.n_metric_names,
        caused.metric_names,
        caused.missing_metric_names,
        caused.source_names,
        caused.n_metric_rows,
        caused.last_value_date,
        caused.grace_days,
        caused.expected_period_start,
        caused.expected_by,
        caused.data_age_days,
        caused.rename_candidates,
        caused.catalog_status,
        caused.origin,
        caused.evaluation_date
    from caused

)

select * from final
