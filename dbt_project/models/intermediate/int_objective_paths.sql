{%- set max_depth = var('max_hierarchy_depth', 32) | int -%}
-- One row per objective: does its parent chain reach a live strategic objective on the evaluation date, and if
-- not, where did it break? Every objective on the chain must be pursued (active, time frame covering the date)
-- and the chain must end at a strategic objective without a parent. The break reported is the one closest to
-- the objective: first a node that is not pursued, else the way the chain ends (missing parent, operational
-- top, cycle, depth bound).

with

run_context as (

    select evaluation_date from {{ ref('stg_catalog__run_context') }}

),

-- each objective on its own is pursued on the evaluation date when it is active and its time frame
-- [start, end] covers the date (null start = already started, null end = open-ended)
judged as (

    select
        resolved.*,
        run_context.evaluation_date,
        case
            when resolved.catalog_status = 'retired' then 'objective_retired'
            when resolved.catalog_status = 'achieved' then 'objective_achieved'
            when resolved.catalog_status is null or resolved.catalog_status <> 'active' then 'objective_status_unknown'
            when resolved.time_frame_start > run_context.evaluation_date then 'objective_not_started'
            when resolved.time_frame_end < run_context.evaluation_date then 'objective_time_frame_ended'
        end as not_live_code
    from {{ ref('int_objectives_as_of') }} as resolved
    cross join run_context

),

reasoned as (

    select
        *,
        not_live_code is null as is_live,
        case not_live_code
            when 'objective_retired' then 'is retired'
            when 'objective_achieved' then 'is achieved'
            when 'objective_status_unknown' then 'has status ''' || coalesce(catalog_status, 'null') || ''', not active'
            when 'objective_not_started' then 'only starts on ' || cast(time_frame_start as {{ dbt.type_string() }})
            when 'objective_time_frame_ended' then 'ended on ' || cast(time_frame_end as {{ dbt.type_string() }})
        end as not_live_reason
    from judged

),

objectives as (

    select
        *,
        {{ kpi_alignment.label('objective_id', 'name') }} || ' ' || not_live_reason as not_live_text
    from reasoned

),

ancestors as (

    select * from {{ ref('int_objective_ancestors') }}

),

walk_summary as (

    select
        objective_id,
        max(distance) as max_distance,
        max(n_visits) > 1 as has_cycle,
        {{ dbt.listagg('ancestor_objective_id', "' > '", 'order by distance') }} as objective_path
    from ancestors
    group by objective_id

),

top_of_chain as (

    select
        walk_summary.objective_id,
        walk_summary.objective_path,
        walk_summary.has_cycle,
        walk_summary.max_distance,
        top_objective.objective_id as top_objective_id,
        top_objective.name as top_name,
        top_objective.level as top_level,
        top_objective.parent_objective_id as top_parent_objective_id,
        top_objective.parent_known as top_parent_known
    from walk_summary
    inner join ancestors
        on ancestors.objective_id = walk_summary.objective_id
        and ancestors.distance = walk_summary.max_distance
    inner join objectives as top_objective
        on top_objective.objective_id = ancestors.ancestor_objective_id

),

structural as (

    select
        *,
        case
            when has_cycle then 'objective_cycle'
            when top_parent_objective_id is not null and not top_parent_known then 'missing_parent_objective'
            when top_parent_objective_id is not null then 'objective_depth_exceeded'
            when coalesce(top_level, '') <> 'strategic' then 'no_strategic_objective'
        end as structural_code
    from top_of_chain

),

first_not_live as (

    select
        ancestors.objective_id,
        ancestors.ancestor_objective_id as break_objective_id,
        ancestors.distance as break_distance,
        objectives.not_live_code,
        objectives.not_live_text,
        row_number() over (partition by ancestors.objective_id order by ancestors.distance) as break_rank
    from ancestors
    inner join objectives
        on objectives.objective_id = ancestors.ancestor_objective_id
    where not objectives.is_live

),

final as (

    select
        objectives.objective_id,
        objectives.name,
        objectives.level,
        objectives.is_live,
        objectives.not_live_code,
        objectives.not_live_reason,
        structural.objective_path,
        structural.max_distance as depth_to_top,
        case when structural.structural_code is null then structural.top_objective_id end
            as strategic_objective_id,
        coalesce(first_not_live.not_live_code, structural.structural_code) as break_code,
        case
            when first_not_live.not_live_code is not null then first_not_live.break_objective_id
            when structural.structural_code is not null then structural.top_objective_id
        end as break_objective_id,
        case
            when first_not_live.not_live_code is not null then first_not_live.not_live_text
            when structural.structural_code = 'objective_cycle'
                then 'the parent chain of ' || {{ kpi_alignment.label('objectives.objective_id', 'objectives.name') }}
                    || ' loops (' || structural.objective_path || ' > ...)'
            when structural.structural_code = 'missing_parent_objective'
                then {{ kpi_alignment.label('structural.top_objective_id', 'structural.top_name') }}
                    || ' names parent objective ''' || structural.top_parent_objective_id
                    || ''', which is not in the catalog'
            when structural.structural_code = 'objective_depth_exceeded'
                then 'the parent chain of ' || {{ kpi_alignment.label('objectives.objective_id', 'objectives.name') }}
                    || ' is deeper than {{ max_depth }} levels (var max_hierarchy_depth)'
            when structural.structural_code = 'no_strategic_objective'
                then {{ kpi_alignment.label('structural.top_objective_id', 'structural.top_name') }}
                    || ' is ' || coalesce(structural.top_level, 'of no level')
                    || ' and has no parent, so the chain reaches no strategic objective'
        end as break_text,
        objectives.evaluation_date
    from objectives
    inner join structural
        on structural.objective_id = objectives.objective_id
    left join first_not_live
        on first_not_live.objective_id = objectives.objective_id
        and first_not_live.break_rank = 1

)

select
    *,
    break_code is null as reaches_live_strategic
from final
