-- One row per KPI of the catalog as of the evaluation: which metric names feed it, what the data delivered for
-- them up to the evaluation date, and whether its latest value is overdue (macros/staleness.sql). This is all
-- statuses unfed and silent need; formulas in _intermediate.yml (int_kpi_feeds).

with

run_context as (

    select evaluation_date from {{ ref('stg_catalog__run_context') }}

),

kpis as (

    select kpi_id, grain, expected_within_days from {{ ref('int_kpis_as_of') }}

),

mappings as (

    select distinct metric_mappings.kpi_id, metric_mappings.metric_name, metric_mappings.role
    from {{ ref('int_kpi_metrics_as_of') }} as metric_mappings
    where metric_mappings.metric_name is not null
        and exists (select 1 from kpis where kpis.kpi_id = metric_mappings.kpi_id)

),

metric_summary as (

    select * from {{ ref('int_metric_summary') }}

),

per_metric as (

    select
        mappings.kpi_id,
        mappings.role,
        mappings.metric_name,
        coalesce(sum(metric_summary.n_rows), 0) as n_rows,
        coalesce(sum(metric_summary.n_values), 0) as n_values,
        min(metric_summary.first_row_date) as first_row_date,
        max(metric_summary.last_row_date) as last_row_date,
        min(metric_summary.first_value_date) as first_value_date,
        max(metric_summary.last_value_date) as last_value_date
    from mappings
    left join metric_summary
        on metric_summary.metric_name = mappings.metric_name
    group by mappings.kpi_id, mappings.role, mappings.metric_name

),

-- alias names of one role are one series: the role is as current as its freshest name
per_role as (

    select
        kpi_id,
        role,
        max(last_value_date) as last_value_date
    from per_metric
    group by kpi_id, role

),

per_kpi as (

    select
        per_metric.kpi_id,
        count(distinct per_metric.metric_name) as n_metric_names,
        sum(per_metric.n_rows) as n_metric_rows,
        sum(per_metric.n_values) as n_metric_values,
        min(per_metric.first_row_date) as first_row_date,
        max(per_metric.last_row_date) as last_row_date,
        min(per_metric.first_value_date) as first_value_date,
        {{ dbt.listagg('per_metric.metric_name', "', '", 'order by per_metric.metric_name') }} as metric_names,
        {{ dbt.listagg('case when per_metric.n_rows = 0 then per_metric.metric_name end', "', '",
            'order by per_metric.metric_name') }} as missing_metric_names
    from per_metric
    group by per_metric.kpi_id

),

-- a KPI fed by several roles (ratio: numerator and denominator) is only as current as its stalest role
kpi_last_value as (

    select
        kpi_id,
        case when count(last_value_date) = count(*) then min(last_value_date) end as last_value_date
    from per_role
    group by kpi_id

),

kpi_sources as (

    select
        kpi_id,
        {{ dbt.listagg('source_name', "', '", 'order by source_name') }} as source_names
    from (
        select distinct mappings.kpi_id, metric_summary.source_name
        from mappings
        inner join metric_summary
            on metric_summary.metric_name = mappings.metric_name
    ) as sources
    group by kpi_id

),

-- periods of the KPI's grain with at least one value (value or numerator role), up to the evaluation date
valued_periods as (

    select kpi_id, count(distinct period_start) as n_periods_with_data
    from (
        select
            mappings.kpi_id,
            {{ kpi_alignment.period_start('kpis.grain', 'metric_values.period_date') }} as period_start
        from mappings
        inner join kpis
            on kpis.kpi_id = mappings.kpi_id
        inner join {{ ref('int_metric_values_unioned') }} as metric_values
            on metric_values.metric_name = mappings.metric_name
        cross join run_context
        where mappings.role in ('value', 'numerator')
            and metric_values.value is not null
            and metric_values.period_date <= run_context.evaluation_date
    ) as periods
    group by kpi_id

),

joined as (

    select
        kpis.kpi_id,
        kpis.grain,
        run_context.evaluation_date,
        coalesce(per_kpi.n_metric_names, 0) as n_metric_names,
        per_kpi.metric_names,
        per_kpi.missing_metric_names,
        kpi_sources.source_names,
        coalesce(per_kpi.n_metric_rows, 0) as n_metric_rows,
        coalesce(per_kpi.n_metric_values, 0) as n_metric_values,
        per_kpi.first_row_date,
        per_kpi.last_row_date,
        per_kpi.first_value_date,
        kpi_last_value.last_value_date,
        coalesce(valued_periods.n_periods_with_data, 0) as n_periods_with_data,
        coalesce(kpis.expected_within_days, {{ kpi_alignment.grace_days_for('kpis.grain') }}) as grace_days,
        case when kpis.expected_within_days is not null then 'kpi' else 'grain default' end as grace_origin
    from kpis
    cross join run_context
    left join per_kpi
        on per_kpi.kpi_id = kpis.kpi_id
    left join kpi_last_value
        on kpi_last_value.kpi_id = kpis.kpi_id
    left join kpi_sources
        on kpi_sources.kpi_id = kpis.kpi_id
    left join valued_periods
        on valued_periods.kpi_id = kpis.kpi_id

),

due as (

    select
        *,
        {{ kpi_alignment.period_start('grain', 'last_value_date') }} as last_period_start,
        {{ kpi_alignment.expected_period_start('grain', 'evaluation_date', 'grace_days') }} as expected_period_start
    from joined

),

final as (

    select
        *,
        {{ kpi_alignment.period_end('grain', 'expected_period_start') }} as expected_period_end,
        {{ kpi_alignment.add_days('(' ~ kpi_alignment.period_end('grain', 'expected_period_start') ~ ')',
            'grace_days') }} as expected_by,
        -- rows exist but the latest value's period is older than the period due (or no value at all)
        n_metric_rows > 0
            and expected_period_start is not null
            and (last_period_start is null or last_period_start < expected_period_start) as is_overdue,
        -- days since the end of the latest period with a value (0 while that period is still running)
        case
            when last_value_date is null then null
            when {{ kpi_alignment.period_end('grain', 'last_period_start') }} >= evaluation_date then 0
            else {{ dbt.datediff(kpi_alignment.period_end('grain', 'last_period_start'), 'evaluation_date', 'day') }}
        end as data_age_days
    from due

)

select * from final
