{%- set max_depth = var('max_hierarchy_depth', 32) | int -%}
{%- set grains = kpi_alignment.objective_score_grains() -%}
{%- set defaults = kpi_alignment.rag_thresholds() -%}
-- Objective scores per period (grains: var objective_score_grains) rolled up the objective tree: an objective's
-- score is the weighted mean of the scores of its linked KPIs (link weight) and of its child objectives
-- (weight 1), over the inputs that have a score in the period, level by level to the top. Computed in closed
-- form: each KPI's effective weight in an objective is the product of its normalised shares along the path
-- down to it, so no level waits for another. Every walk stops after max_hierarchy_depth steps: a cycle (which
-- catalog validation rejects) cannot hang it, and its members get no score (rag_status 'cycle').
-- Formulas and coverage: _int_scoring.yml (int_objective_scores).

with recursive

run_context as (

    select evaluation_date from {{ ref('stg_catalog__run_context') }}

),

objectives as (

    select objective_id, name, level, parent_objective_id, parent_known, catalog_status, time_frame_start,
        time_frame_end
    from {{ ref('int_objectives_resolved') }}

),

kpis as (

    select
        resolved.kpi_id,
        {{ kpi_alignment.grain_rank('resolved.grain') }} as kpi_grain_rank,
        resolved.catalog_status,
        evaluated.status as alignment_status
    from {{ ref('int_kpis_resolved') }} as resolved
    left join {{ ref('int_kpi_alignment_evaluated') }} as evaluated
        on evaluated.kpi_id = resolved.kpi_id

),

kpi_scores as (

    select kpi_id, grain, period_start, period_end, actual_value, score
    from {{ ref('int_kpi_scores') }}
    where dimension = '*'
        and grain in ({% for grain in grains %}'{{ grain }}'{% if not loop.last %}, {% endif %}{% endfor %})

),

-- the periods scored: those with any KPI data, up to the evaluation date
periods as (

    select distinct
        kpi_scores.grain,
        {{ kpi_alignment.grain_rank('kpi_scores.grain') }} as grain_rank,
        kpi_scores.period_start,
        kpi_scores.period_end
    from kpi_scores
    cross join run_context
    where kpi_scores.actual_value is not null
        and kpi_scores.period_start <= run_context.evaluation_date

),

-- objectives in play in a period: not retired, time frame overlapping the period
objective_periods as (

    select
        objectives.objective_id,
        objectives.parent_objective_id,
        objectives.parent_known,
        periods.grain,
        periods.grain_rank,
        periods.period_start,
        periods.period_end
    from objectives
    cross join periods
    where coalesce(objectives.catalog_status, 'active') <> 'retired'
        and (objectives.time_frame_start is null or objectives.time_frame_start <= periods.period_end)
        and (objectives.time_frame_end is null or objectives.time_frame_end >= periods.period_start)

),

-- counted links in play: not informational, known KPI (not retired, measured at this grain or finer) and
-- objective, valid on some day of the period; a pair linked twice in one period counts once (largest weight)
kpi_inputs as (

    select
        objective_periods.objective_id,
        links.kpi_id,
        objective_periods.grain,
        objective_periods.period_start,
        max(coalesce(links.weight, 1.0)) as weight
    from {{ ref('int_kpi_links_evaluated') }} as links
    inner join kpis
        on kpis.kpi_id = links.kpi_id
    inner join objective_periods
        on objective_periods.objective_id = links.objective_id
    where links.kpi_known
        and links.objective_known
        and not coalesce(links.informational, false)
        and coalesce(kpis.catalog_status, 'active') <> 'retired'
        and kpis.kpi_grain_rank <= objective_periods.grain_rank
        and (links.valid_from is null or links.valid_from <= objective_periods.period_end)
        and (links.valid_to is null or links.valid_to >= objective_periods.period_start)
    group by objective_periods.objective_id, links.kpi_id, objective_periods.grain, objective_periods.period_start

),

kpi_inputs_scored as (

    select
        kpi_inputs.*,
        kpi_scores.actual_value,
        kpi_scores.score,
        kpis.alignment_status
    from kpi_inputs
    inner join kpis
        on kpis.kpi_id = kpi_inputs.kpi_id
    left join kpi_scores
        on kpi_scores.kpi_id = kpi_inputs.kpi_id
        and kpi_scores.grain = kpi_inputs.grain
        and kpi_scores.period_start = kpi_inputs.period_start

),

-- every objective with the objectives below it in play in the same period (itself at depth 0)
subtree (root_id, node_id, grain, period_start, depth) as (

    select objective_id, objective_id, grain, period_start, 0
    from objective_periods

    union all

    select subtree.root_id, child.objective_id, subtree.grain, subtree.period_start, subtree.depth + 1
    from subtree
    inner join objective_periods as child
        on child.parent_objective_id = subtree.node_id
        and child.parent_known
        and child.grain = subtree.grain
        and child.period_start = subtree.period_start
    where subtree.depth < {{ max_depth }}

),

in_cycle as (

    select distinct root_id as objective_id, grain, period_start
    from subtree
    where depth > 0 and node_id = root_id

),

-- an objective has a score in a period when a KPI linked to it or below it has one
has_score as (

    select distinct subtree.root_id as objective_id, subtree.grain, subtree.period_start
    from subtree
    inner join kpi_inputs_scored
        on kpi_inputs_scored.objective_id = subtree.node_id
        and kpi_inputs_scored.grain = subtree.grain
        and kpi_inputs_scored.period_start = subtree.period_start
    where kpi_inputs_scored.score is not null

),

scored_children as (

    select
        child.parent_objective_id as objective_id,
        child.objective_id as child_id,
        child.grain,
        child.period_start
    from objective_periods as child
    inner join has_score
        on has_score.objective_id = child.objective_id
        and has_score.grain = child.grain
        and has_score.period_start = child.period_start
    where child.parent_known

),

-- each objective's direct inputs with a score: Σ link weights of scored KPIs + 1 per scored child objective
node_weights as (

    select
        objective_periods.objective_id,
        objective_periods.grain,
        objective_periods.period_start,
        coalesce(direct.kpi_weight, 0) + coalesce(children.n_children, 0) as total_weight,
        coalesce(direct.n_kpis, 0) + coalesce(children.n_children, 0) as n_inputs
    from objective_periods
    left join (
        select objective_id, grain, period_start, fsum(weight) as kpi_weight, count(*) as n_kpis
        from kpi_inputs_scored
        where score is not null
        group by objective_id, grain, period_start
    ) as direct
        on direct.objective_id = objective_periods.objective_id
        and direct.grain = objective_periods.grain
        and direct.period_start = objective_periods.period_start
    left join (
        select objective_id, grain, period_start, count(*) as n_children
        from scored_children
        group by objective_id, grain, period_start
    ) as children
        on children.objective_id = objective_periods.objective_id
        and children.grain = objective_periods.grain
        and children.period_start = objective_periods.period_start

),

-- path factor: the share of the root's score each objective below it carries (product of 1 / total weight)
walk (root_id, node_id, grain, period_start, factor, depth) as (

    select objective_id, objective_id, grain, period_start, cast(1.0 as {{ kpi_alignment.type_double() }}), 0
    from has_score

    union all

    select
        walk.root_id,
        scored_children.child_id,
        walk.grain,
        walk.period_start,
        walk.factor / node_weights.total_weight,
        walk.depth + 1
    from walk
    inner join node_weights
        on node_weights.objective_id = walk.node_id
        and node_weights.grain = walk.grain
        and node_weights.period_start = walk.period_start
    inner join scored_children
        on scored_children.objective_id = walk.node_id
        and scored_children.grain = walk.grain
        and scored_children.period_start = walk.period_start
    where walk.depth < {{ max_depth }}

),

-- each scored KPI's effective weight in each objective above it; all link weights 0 = equal shares
contributions as (

    select
        walk.root_id as objective_id,
        walk.grain,
        walk.period_start,
        kpi_inputs_scored.kpi_id,
        kpi_inputs_scored.alignment_status,
        kpi_inputs_scored.score,
        walk.factor * case
            when node_weights.total_weight > 0 then kpi_inputs_scored.weight / node_weights.total_weight
            else 1.0 / node_weights.n_inputs
        end as effective_weight
    from walk
    inner join node_weights
        on node_weights.objective_id = walk.node_id
        and node_weights.grain = walk.grain
        and node_weights.period_start = walk.period_start
    inner join kpi_inputs_scored
        on kpi_inputs_scored.objective_id = walk.node_id
        and kpi_inputs_scored.grain = walk.grain
        and kpi_inputs_scored.period_start = walk.period_start
    where kpi_inputs_scored.score is not null

),

rolled_up as (

    select
        objective_id,
        grain,
        period_start,
        -- fsum (compensated): a plain double sum depends on the order threads combine rows, and the same data
        -- must give the same scores on every run (a score of 99.99999999999999 one night, 100 the next)
        fsum(effective_weight * score) / nullif(fsum(effective_weight), 0) as score,
        fsum(case when alignment_status = 'connected' then effective_weight else 0 end)
            / nullif(fsum(effective_weight), 0) as fresh_weight_share
    from contributions
    group by objective_id, grain, period_start

),

-- coverage: the distinct KPIs linked to the objective or below it in the period
subtree_kpis as (

    select distinct
        subtree.root_id as objective_id,
        subtree.grain,
        subtree.period_start,
        kpi_inputs_scored.kpi_id,
        kpi_inputs_scored.actual_value,
        kpi_inputs_scored.score,
        kpi_inputs_scored.alignment_status
    from subtree
    inner join kpi_inputs_scored
        on kpi_inputs_scored.objective_id = subtree.node_id
        and kpi_inputs_scored.grain = subtree.grain
        and kpi_inputs_scored.period_start = subtree.period_start

),

coverage as (

    select
        objective_id,
        grain,
        period_start,
        count(*) as n_inputs_total,
        count(score) as n_inputs_scored,
        count(case when alignment_status = 'connected' then 1 end) as n_inputs_fresh,
        count(case when alignment_status = 'silent' then 1 end) as n_inputs_silent,
        count(case when actual_value is not null and score is null then 1 end) as n_inputs_without_target,
        count(case when actual_value is null then 1 end) as n_inputs_without_data,
        {{ dbt.listagg("case when actual_value is null then kpi_id end", "', '", "order by kpi_id") }}
            as kpis_without_data,
        {{ dbt.listagg("case when actual_value is not null and score is null then kpi_id end", "', '",
            "order by kpi_id") }} as kpis_without_target,
        {{ dbt.listagg("case when alignment_status = 'silent' then kpi_id end", "', '", "order by kpi_id") }}
            as kpis_silent
    from subtree_kpis
    group by objective_id, grain, period_start

),

direct_counts as (

    select
        objective_periods.objective_id,
        objective_periods.grain,
        objective_periods.period_start,
        (
            select count(*) from kpi_inputs
            where kpi_inputs.objective_id = objective_periods.objective_id
                and kpi_inputs.grain = objective_periods.grain
                and kpi_inputs.period_start = objective_periods.period_start
        ) as n_direct_kpis,
        (
            select count(*) from scored_children
            where scored_children.objective_id = objective_periods.objective_id
                and scored_children.grain = objective_periods.grain
                and scored_children.period_start = objective_periods.period_start
        ) as n_scored_child_objectives
    from objective_periods

),

final as (

    select
        objective_periods.objective_id,
        objectives.name,
        objectives.level,
        objective_periods.grain,
        objective_periods.period_start,
        objective_periods.period_end,
        case when in_cycle.objective_id is null then rolled_up.score end as score,
        case
            when in_cycle.objective_id is not null then 'cycle'
            when rolled_up.score is not null and rolled_up.score >= {{ defaults['green_at'] }} then 'green'
            when rolled_up.score is not null and rolled_up.score >= {{ defaults['amber_at'] }} then 'amber'
            when rolled_up.score is not null then 'red'
            when coverage.n_inputs_total > coverage.n_inputs_without_data then 'no_target'
            else 'no_data'
        end as rag_status,
        {{ defaults['green_at'] }} as rag_green_at,
        {{ defaults['amber_at'] }} as rag_amber_at,
        case when in_cycle.objective_id is null then rolled_up.fresh_weight_share end as fresh_weight_share,
        coverage.n_inputs_total,
        coverage.n_inputs_scored,
        coverage.n_inputs_fresh,
        coverage.n_inputs_silent,
        coverage.n_inputs_without_target,
        coverage.n_inputs_without_data,
        coverage.kpis_without_data,
        coverage.kpis_without_target,
        coverage.kpis_silent,
        direct_counts.n_direct_kpis,
        direct_counts.n_scored_child_objectives,
        in_cycle.objective_id is not null as in_cycle,
        run_context.evaluation_date
    from objective_periods
    inner join objectives
        on objectives.objective_id = objective_periods.objective_id
    -- only periods in which some KPI linked to the objective or below it has data
    inner join coverage
        on coverage.objective_id = objective_periods.objective_id
        and coverage.grain = objective_periods.grain
        and coverage.period_start = objective_periods.period_start
        and coverage.n_inputs_without_data < coverage.n_inputs_total
    inner join direct_counts
        on direct_counts.objective_id = objective_periods.objective_id
        and direct_counts.grain = objective_periods.grain
        and direct_counts.period_start = objective_periods.period_start
    left join rolled_up
        on rolled_up.objective_id = objective_periods.objective_id
        and rolled_up.grain = objective_periods.grain
        and rolled_up.period_start = objective_periods.period_start
    left join in_cycle
        on in_cycle.objective_id = objective_periods.objective_id
        and in_cycle.grain = objective_periods.grain
        and in_cycle.period_start = objective_periods.period_start
    cross join run_context

),

previous_period as (

    select objective_id, grain, period_end, score
    from final

)

select
    final.*,
    previous_period.score as previous_score,
    final.score - previous_period.score as score_change
from final
left join previous_period
    on previous_period.objective_id = final.objective_id
    and previous_period.grain = final.grain
    and previous_period.period_end = {{ kpi_alignment.add_days('final.period_start', -1) }}
