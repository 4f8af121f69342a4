-- Each KPI's metric values aggregated to the KPI's grain with its aggregation, per dimension and for '*' (all
-- dimensions), with the period's target. A period without any metric row has no row here (never a zero).
-- Formulas: see _intermediate.yml (int_kpi_values_by_period).

with

kpis as (

    select kpi_id, direction, aggregation, grain
    from {{ ref('int_kpis_resolved') }}

),

kpi_metrics as (

    select distinct
        {{ kpi_alignment.resolve_id('kpi_metrics.kpi_id', ref('stg_catalog__kpis'), 'kpi_id') }} as kpi_id,
        kpi_metrics.metric_name,
        kpi_metrics.role
    from {{ ref('stg_catalog__kpi_metrics') }} as kpi_metrics
    where kpi_metrics.kpi_id is not null
        and kpi_metrics.metric_name is not null

),

metric_values as (

    select * from {{ ref('int_metric_values_unioned') }}

),

matched as (

    select
        kpi_metrics.kpi_id,
        kpi_metrics.role,
        metric_values.metric_name,
        metric_values.period_date,
        metric_values.dimension,
        metric_values.value,
        metric_values.target_value,
        metric_values.source_name
    from metric_values
    inner join kpi_metrics
        on kpi_metrics.metric_name = metric_values.metric_name

),

-- alias names (e.g. revenue and net_revenue after a rename) are one series: one value per KPI, role, day and
-- dimension, a non-null one first
one_series as (

    select * from (
        select
            matched.*,
            row_number() over (
                partition by kpi_id, role, period_date, dimension
                order by case when value is null then 1 else 0 end, metric_name, source_name
            ) as series_rank
        from matched
    ) as ranked
    where series_rank = 1

),

-- '*' (all dimensions) on a day is the source's own '*' row when it gives one, else that day's dimension rows
daily as (

    select kpi_id, role, period_date, dimension, value, target_value
    from one_series
    where dimension <> '*'

    union all

    select kpi_id, role, period_date, dimension, value, target_value
    from one_series
    where dimension = '*'

    union all

    select breakdown.kpi_id, breakdown.role, breakdown.period_date, '*' as dimension, breakdown.value,
        breakdown.target_value
    from one_series as breakdown
    where breakdown.dimension <> '*'
        and not exists (
            select 1
            from one_series as total
            where total.kpi_id = breakdown.kpi_id
                and total.role = breakdown.role
                and total.period_date = breakdown.period_date
                and total.dimension = '*'
        )

),

periodized as (

    select
        daily.*,
        kpis.direction,
        kpis.aggregation,
        kpis.grain,
        {{ kpi_alignment.period_start('kpis.grain', 'daily.period_date') }} as period_start
    from daily
    inner join kpis
        on kpis.kpi_id = daily.kpi_id

),

period_dates as (

    select
        kpi_id,
        period_start,
        dimension,
        max(case when role = 'value' and value is not null then period_date end) as last_value_date,
        max(case when target_value is not null then period_date end) as last_target_date
    from periodized
    group by kpi_id, period_start, dimension

),

aggregated as (

    select
        periodized.kpi_id,
        periodized.period_start,
        periodized.dimension,
        periodized.direction,
        periodized.aggregation,
        periodized.grain,
        sum(case when periodized.role = 'value' then periodized.value end) as value_sum,
        avg(case when periodized.role = 'value' then periodized.value end) as value_avg,
        min(case when periodized.role = 'value' then periodized.value end) as value_min,
        max(case when periodized.role = 'value' then periodized.value end) as value_max,
        sum(case when periodized.role = 'value' and periodized.period_date = period_dates.last_value_date
            then periodized.value end) as value_last,
        sum(case when periodized.role = 'numerator' then periodized.value end) as numerator_sum,
        sum(case when periodized.role = 'denominator' then periodized.value end) as denominator_sum,
        count(periodized.value) as n_observations,
        max(periodized.period_date) as last_observation_date,
        sum(periodized.target_value) as target_sum,
        avg(periodized.target_value) as target_avg,
        avg(case when periodized.period_date = period_dates.last_target_date
            then periodized.target_value end) as target_latest
    from periodized
    inner join period_dates
        on period_dates.kpi_id = periodized.kpi_id
        and period_dates.period_start = periodized.period_start
        and period_dates.dimension = periodized.dimension
    group by
        periodized.kpi_id,
        periodized.period_start,
        periodized.dimension,
        periodized.direction,
        periodized.aggregation,
        periodized.grain

),

valued as (

    select
        *,
        {{ kpi_alignment.period_end('grain', 'period_start') }} as period_end,
        case aggregation
            when 'sum' then value_sum
            when 'average' then value_avg
            when 'min' then value_min
            when 'max' then value_max
            when 'last' then value_last
            -- ratio of sums, never an average of daily ratios
            when 'ratio' then numerator_sum / nullif(denominator_sum, 0)
        end as actual_value,
        case aggregation
            when 'sum' then target_sum
            when 'average' then target_avg
            else target_latest
        end as source_target_value
    from aggregated

),

catalog_targets as (

    select
        {{ kpi_alignment.resolve_id('targets.kpi_id_as_written', ref('stg_catalog__kpis'), 'kpi_id') }} as kpi_id,
        targets.period_start as target_period_start,
        targets.period_end as target_period_end,
        targets.target_type,
        targets.target_value,
        targets.lower_value,
        targets.upper_value,
        targets.baseline_value
    from {{ ref('stg_catalog__targets') }} as targets

),

-- a catalog target applies to the '*' row of every KPI period it covers; the narrowest covering target wins
matched_targets as (

    select * from (
        select
            valued.kpi_id,
            valued.period_start,
            catalog_targets.target_type,
            catalog_targets.target_value,
            catalog_targets.lower_value,
            catalog_targets.upper_value,
            catalog_targets.baseline_value,
            row_number() over (
                partition by valued.kpi_id, valued.period_start
                order by
                    {{ dbt.datediff('catalog_targets.target_period_start', 'catalog_targets.target_period_end', 'day') }},
                    catalog_targets.target_period_start desc
            ) as target_rank
        from valued
        inner join catalog_targets
            on catalog_targets.kpi_id = valued.kpi_id
            and catalog_targets.target_period_start <= valued.period_start
            and catalog_targets.target_period_end >= valued.period_end
        where valued.dimension = '*'
    ) as ranked
    where target_rank = 1

),

final as (

    select
        valued.kpi_id,
        valued.period_start,
        valued.period_end,
        valued.grain,
        valued.dimension,
        valued.aggregation,
        valued.direction,
        valued.actual_value,
        case when valued.aggregation = 'ratio' then valued.numerator_sum end as numerator_value,
        case when valued.aggregation = 'ratio' then valued.denominator_sum end as denominator_value,
        case
            when matched_targets.kpi_id is not null then matched_targets.target_value
            else valued.source_target_value
        end as target_value,
        case
            when matched_targets.kpi_id is not null then matched_targets.target_type
            when valued.source_target_value is null then null
            when valued.direction = 'lower_is_better' then 'at_most'
            else 'at_least'
        end as target_type,
        matched_targets.lower_value as target_lower_value,
        matched_targets.upper_value as target_upper_value,
        matched_targets.baseline_value as target_baseline_value,
        case
            when matched_targets.kpi_id is not null then 'catalog'
            when valued.source_target_value is not null then 'source'
        end as target_origin,
        valued.n_observations,
        valued.last_observation_date
    from valued
    left join matched_targets
        on matched_targets.kpi_id = valued.kpi_id
        and matched_targets.period_start = valued.period_start
        and valued.dimension = '*'

)

select * from final
