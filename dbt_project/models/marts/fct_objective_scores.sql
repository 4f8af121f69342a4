-- Objective x grain x period: the objective's score rolled up from its KPIs and child objectives, its RAG status
-- and how much of it rests on fresh, silent, untargeted or missing data (int_objective_scores).
-- Formulas: models/intermediate/_int_scoring.yml.

with

scores as (

    select * from {{ ref('int_objective_scores') }}

),

final as (

    select
        cast(objective_id as {{ dbt.type_string() }}) as objective_id,
        cast(name as {{ dbt.type_string() }}) as name,
        cast(level as {{ dbt.type_string() }}) as level,
        cast(grain as {{ dbt.type_string() }}) as grain,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(score as {{ kpi_alignment.type_double() }}) as score,
        cast(rag_status as {{ dbt.type_string() }}) as rag_status,
        cast(rag_green_at as {{ kpi_alignment.type_double() }}) as rag_green_at,
        cast(rag_amber_at as {{ kpi_alignment.type_double() }}) as rag_amber_at,
        cast(previous_score as {{ kpi_alignment.type_double() }}) as previous_score,
        cast(score_change as {{ kpi_alignment.type_double() }}) as score_change,
        cast(fresh_weight_share as {{ kpi_alignment.type_double() }}) as fresh_weight_share,
        cast(n_inputs_total as {{ dbt.type_bigint() }}) as n_inputs_total,
        cast(n_inputs_scored as {{ dbt.type_bigint() }}) as n_inputs_scored,
        cast(n_inputs_fresh as {{ dbt.type_bigint() }}) as n_inputs_fresh,
        cast(n_inputs_silent as {{ dbt.type_bigint() }}) as n_inputs_silent,
        cast(n_inputs_without_target as {{ dbt.type_bigint() }}) as n_inputs_without_target,
        cast(n_inputs_without_data as {{ dbt.type_bigint() }}) as n_inputs_without_data,
        cast(kpis_without_data as {{ dbt.type_string() }}) as kpis_without_data,
        cast(kpis_without_target as {{ dbt.type_string() }}) as kpis_without_target,
        cast(kpis_silent as {{ dbt.type_string() }}) as kpis_silent,
        cast(n_direct_kpis as {{ dbt.type_bigint() }}) as n_direct_kpis,
        cast(n_scored_child_objectives as {{ dbt.type_bigint() }}) as n_scored_child_objectives,
        cast(in_cycle as boolean) as in_cycle,
        cast(evaluation_date as date) as evaluation_date
    from scores

)

select * from final
