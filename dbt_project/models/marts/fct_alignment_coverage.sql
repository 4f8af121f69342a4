-- Coverage per evaluation date ever judged (from the status logs, so it is tracked night after night):
-- how many KPIs per status, the share of active KPIs connected, and the share of pursued strategic objectives
-- measured. The shares are the figures of the report (kpi_alignment/report/findings.py).

with

kpi_log as (

    select * from {{ ref('int_kpi_status_log') }}

),

objective_log as (

    select * from {{ ref('int_objective_status_log') }}

),

runs as (

    select * from {{ ref('int_evaluation_runs') }}

),

kpi_counts as (

    select
        evaluation_date,
        count(*) as n_kpis,
        count(case when status <> 'retired' then 1 end) as n_kpis_active,
        {%- for status in ['connected', 'orphaned', 'disconnected', 'silent', 'unfed', 'retired'] %}
        count(case when status = '{{ status }}' then 1 end) as n_kpis_{{ status }},
        {%- endfor %}
        max(data_age_days) as max_data_age_days
    from kpi_log
    group by evaluation_date

),

objective_counts as (

    select
        evaluation_date,
        count(*) as n_objectives,
        {%- for status in ['measured', 'stale', 'unmeasured', 'inactive'] %}
        count(case when status = '{{ status }}' then 1 end) as n_objectives_{{ status }},
        {%- endfor %}
        -- pursued strategic objectives: strategic and not inactive
        count(case when level = 'strategic' and status <> 'inactive' then 1 end) as n_strategic_active,
        count(case when level = 'strategic' and status = 'measured' then 1 end) as n_strategic_measured,
        count(case when level = 'strategic' and status = 'stale' then 1 end) as n_strategic_stale,
        count(case when level = 'strategic' and status = 'unmeasured' then 1 end) as n_strategic_unmeasured
    from objective_log
    group by evaluation_date

),

final as (

    select
        cast(runs.evaluation_date as date) as evaluation_date,
        cast(coalesce(kpi_counts.n_kpis, 0) as {{ dbt.type_bigint() }}) as n_kpis,
        cast(coalesce(kpi_counts.n_kpis_active, 0) as {{ dbt.type_bigint() }}) as n_kpis_active,
        {%- for status in ['connected', 'orphaned', 'disconnected', 'silent', 'unfed', 'retired'] %}
        cast(coalesce(kpi_counts.n_kpis_{{ status }}, 0) as {{ dbt.type_bigint() }}) as n_kpis_{{ status }},
        {%- endfor %}
        cast(
            case when kpi_counts.n_kpis_active > 0
                then 1.0 * kpi_counts.n_kpis_connected / kpi_counts.n_kpis_active end
        as {{ kpi_alignment.type_double() }}) as share_kpis_connected,
        cast(coalesce(objective_counts.n_objectives, 0) as {{ dbt.type_bigint() }}) as n_objectives,
        {%- for status in ['measured', 'stale', 'unmeasured', 'inactive'] %}
        cast(coalesce(objective_counts.n_objectives_{{ status }}, 0) as {{ dbt.type_bigint() }})
            as n_objectives_{{ status }},
        {%- endfor %}
        cast(coalesce(objective_counts.n_strategic_active, 0) as {{ dbt.type_bigint() }}) as n_strategic_active,
        cast(coalesce(objective_counts.n_strategic_measured, 0) as {{ dbt.type_bigint() }}) as n_strategic_measured,
        cast(coalesce(objective_counts.n_strategic_stale, 0) as {{ dbt.type_bigint() }}) as n_strategic_stale,
        cast(coalesce(objective_counts.n_strategic_unmeasured, 0) as {{ dbt.type_bigint() }})
            as n_strategic_unmeasured,
        cast(
            case when objective_counts.n_strategic_active > 0
                then 1.0 * objective_counts.n_strategic_measured / objective_counts.n_strategic_active end
        as {{ kpi_alignment.type_double() }}) as share_strategic_measured,
        cast(kpi_counts.max_data_age_days as integer) as max_data_age_days,
        cast(runs.is_restatement as boolean) as is_restatement,
        cast(runs.recorded_at as {{ dbt.type_timestamp() }}) as recorded_at
    from runs
    left join kpi_counts
        on kpi_counts.evaluation_date = runs.evaluation_date
    left join objective_counts
        on objective_counts.evaluation_date = runs.evaluation_date

)

select * from final
