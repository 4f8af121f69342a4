-- What the data deliver, per metric name and source, up to the evaluation date (a value dated after it does not
-- exist yet for that evaluation, so restating a past date sees the past). Rows without a metric name are left
-- out (stg_raw__metric_values reports them).

with

run_context as (

    select evaluation_date from {{ ref('stg_catalog__run_context') }}

),

metric_values as (

    select metric_values.metric_name, metric_values.source_name, metric_values.period_date, metric_values.value
    from {{ ref('int_metric_values_unioned') }} as metric_values
    cross join run_context
    where metric_values.metric_name is not null
        and metric_values.period_date <= run_context.evaluation_date

),

final as (

    select
        metric_name,
        source_name,
        count(*) as n_rows,
        count(value) as n_values,
        min(period_date) as first_row_date,
        max(period_date) as last_row_date,
        min(case when value is not null then period_date end) as first_value_date,
        max(case when value is not null then period_date end) as last_value_date
    from metric_values
    group by metric_name, source_name

)

select * from final
