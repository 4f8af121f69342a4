{{ config(materialized='table') }}
{#
    Daily metrics of closed items in the metric shape (docs/architecture.md), by day of closing; dimension =
    'issue' or 'pull_request' ('*' is the sum over both, made by the KPI layer):
      items_closed   items closed that day
      days_to_close  Σ (closed_at - created_at) in days of those items
    Average days to close = Σ days_to_close / Σ items_closed over any period (a ratio of sums).
#}
with

items as (

    select
        cast(closed_at as date) as period_date,
        case when pull_request_url is null then 'issue' else 'pull_request' end as dimension,
        {{ dbt.datediff('created_at', 'closed_at', 'second') }} / 86400.0 as days_open
    from {{ source('project_raw', 'github_issues') }}
    where state = 'closed' and closed_at is not null

),

aggregated as (

    select period_date, dimension, count(*) as items_closed, sum(days_open) as days_to_close
    from items
    group by period_date, dimension

)

select 'items_closed' as metric_name, period_date, dimension,
       cast(items_closed as double) as value, cast(null as double) as target_value,
       'betamax_issues' as source_name
from aggregated
union all
select 'days_to_close', period_date, dimension, cast(days_to_close as double), cast(null as double),
       'betamax_issues'
from aggregated
