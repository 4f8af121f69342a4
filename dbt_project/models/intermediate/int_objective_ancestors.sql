{%- set max_depth = var('max_hierarchy_depth', 32) | int -%}
-- Every objective (of the catalog as of the evaluation, int_objectives_as_of) with each of its ancestors (itself at distance 0, its parent at 1, ...). The walk follows
-- known parents only and stops after max_hierarchy_depth steps, so a cycle ends too: its members then appear
-- more than once (n_visits > 1), which int_objective_paths reports as a cycle.

with recursive

objectives as (

    select objective_id, parent_objective_id, parent_known
    from {{ ref('int_objectives_as_of') }}

),

walk as (

    select
        objective_id,
        objective_id as ancestor_objective_id,
        0 as distance
    from objectives

    union all

    select
        walk.objective_id,
        objectives.parent_objective_id as ancestor_objective_id,
        walk.distance + 1 as distance
    from walk
    inner join objectives
        on objectives.objective_id = walk.ancestor_objective_id
    where objectives.parent_known
        and walk.distance < {{ max_depth }}

),

final as (

    select
        objective_id,
        ancestor_objective_id,
        min(distance) as distance,
        count(*) as n_visits
    from walk
    group by objective_id, ancestor_objective_id

)

select * from final
