{%- set grains = ['day', 'week', 'month', 'quarter', 'year'] -%}
{%- set bounds = ['target_value', 'lower_value', 'upper_value', 'baseline_value'] -%}
-- Each KPI's metric values aggregated with its aggregation, per dimension and for '*' (all dimensions), to the
-- KPI's own grain and to every coarser grain up to year (is_native_grain), always from the base observations
-- (a year ratio is Σ numerator / Σ denominator over the year, a year average the mean of the base values), with
-- the period's target. A period without any metric row has no row here (never a zero).
-- Formulas and target rules: _int_scoring.yml (int_kpi_values_by_grain). Every sum of doubles is an fsum
-- (compensated): a plain sum depends on the order parallel threads combine rows, and the same data must give the
-- same marts on every run.

with

kpis as (

    select
        kpi_id,
        direction,
        aggregation,
        grain as kpi_grain,
        {{ kpi_alignment.grain_rank('grain') }} as kpi_grain_rank
    from {{ ref('int_kpis_resolved') }}

),

grains as (
    {% for grain in grains %}
    select '{{ grain }}' as grain, {{ kpi_alignment.grain_rank("'" ~ grain ~ "'") }} as grain_rank
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

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

-- one row per KPI, dimension and day with the day's partial sums, counts and extremes: every grain below is
-- aggregated from these, so no observation is repeated once per grain (issue 8: a 10M-row history fanned out
-- to every grain cost 5x the rows)
day_obs as (

    select
        kpi_id,
        dimension,
        period_date,
        fsum(value) filter (where role = 'value') as value_sum,
        count(value) filter (where role = 'value') as value_count,
        min(value) filter (where role = 'value') as value_min,
        max(value) filter (where role = 'value') as value_max,
        fsum(value) filter (where role = 'numerator') as numerator_sum,
        fsum(value) filter (where role = 'denominator') as denominator_sum,
        count(value) as n_observations,
        fsum(target_value) as target_sum,
        count(target_value) as target_count
    from daily
    group by kpi_id, dimension, period_date

),

-- day, week and month periods from the days (day and week only for KPIs that fine): a period's last value is
-- the sum of the value rows on its last day with one, its latest target the mean target on its last day with one
fine_periods as (

    select
        day_obs.kpi_id,
        grains.grain,
        {{ kpi_alignment.period_start('grains.grain', 'day_obs.period_date') }} as period_start,
        day_obs.dimension,
        fsum(day_obs.value_sum) as value_sum,
        sum(day_obs.value_count) as value_count,
        min(day_obs.value_min) as value_min,
        max(day_obs.value_max) as value_max,
        max(day_obs.period_date) filter (where day_obs.value_count > 0) as last_value_date,
        arg_max(day_obs.value_sum, day_obs.period_date) filter (where day_obs.value_count > 0) as value_last,
        fsum(day_obs.numerator_sum) as numerator_sum,
        fsum(day_obs.denominator_sum) as denominator_sum,
        sum(day_obs.n_observations) as n_observations,
        max(day_obs.period_date) as last_observation_date,
        fsum(day_obs.target_sum) as target_sum,
        sum(day_obs.target_count) as target_count,
        max(day_obs.period_date) filter (where day_obs.target_count > 0) as last_target_date,
        arg_max(day_obs.target_sum, day_obs.period_date) filter (where day_obs.target_count > 0)
            as target_last_sum,
        arg_max(day_obs.target_count, day_obs.period_date) filter (where day_obs.target_count > 0)
            as target_last_count
    from day_obs
    inner join kpis
        on kpis.kpi_id = day_obs.kpi_id
    inner join grains
        on grains.grain in ('day', 'week', 'month')
        and (grains.grain_rank >= kpis.kpi_grain_rank or grains.grain = 'month')
    group by all

),

-- quarters and years are whole months (fiscal ones too): combined from the month rows
coarse_periods as (

    select
        months.kpi_id,
        grains.grain,
        {{ kpi_alignment.period_start('grains.grain', 'months.period_start') }} as period_start,
        months.dimension,
        fsum(months.value_sum) as value_sum,
        sum(months.value_count) as value_count,
        min(months.value_min) as value_min,
        max(months.value_max) as value_max,
        max(months.last_value_date) as last_value_date,
        arg_max(months.value_last, months.last_value_date) as value_last,
        fsum(months.numerator_sum) as numerator_sum,
        fsum(months.denominator_sum) as denominator_sum,
        sum(months.n_observations) as n_observations,
        max(months.last_observation_date) as last_observation_date,
        fsum(months.target_sum) as target_sum,
        sum(months.target_count) as target_count,
        max(months.last_target_date) as last_target_date,
        arg_max(months.target_last_sum, months.last_target_date) as target_last_sum,
        arg_max(months.target_last_count, months.last_target_date) as target_last_count
    from fine_periods as months
    inner join grains
        on grains.grain in ('quarter', 'year')
    where months.grain = 'month'
    group by all

),

aggregated as (

    select
        periods.kpi_id,
        periods.grain,
        periods.period_start,
        periods.dimension,
        kpis.kpi_grain,
        grains.grain_rank = kpis.kpi_grain_rank as is_native_grain,
        kpis.direction,
        kpis.aggregation,
        periods.value_sum,
        periods.value_sum / nullif(periods.value_count, 0) as value_avg,
        periods.value_min,
        periods.value_max,
        periods.value_last,
        cast(periods.value_count as bigint) as n_value_observations,
        periods.numerator_sum,
        periods.denominator_sum,
        cast(periods.n_observations as bigint) as n_observations,
        periods.last_observation_date,
        periods.target_sum,
        periods.target_sum / nullif(periods.target_count, 0) as target_avg,
        periods.target_last_sum / nullif(periods.target_last_count, 0) as target_latest
    from (
        select * from fine_periods
        union all
        select * from coarse_periods
    ) as periods
    inner join kpis
        on kpis.kpi_id = periods.kpi_id
    inner join grains
        on grains.grain = periods.grain
    where grains.grain_rank >= kpis.kpi_grain_rank

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

-- the '*' rows catalog targets apply to
total_rows as (

    select
        kpi_id,
        grain,
        period_start,
        period_end,
        aggregation,
        is_native_grain,
        denominator_sum,
        n_value_observations,
        {{ kpi_alignment.period_days('period_start', 'period_end') }} as period_days
    from valued
    where dimension = '*'

),

catalog_targets as (

    select
        {{ kpi_alignment.resolve_id('targets.kpi_id_as_written', ref('stg_catalog__kpis'), 'kpi_id') }} as kpi_id,
        targets.period_start as target_period_start,
        targets.period_end as target_period_end,
        {{ kpi_alignment.period_days('targets.period_start', 'targets.period_end') }} as target_days,
        targets.target_type,
        targets.target_value,
        targets.lower_value,
        targets.upper_value,
        targets.baseline_value
    from {{ ref('stg_catalog__targets') }} as targets

),

-- rule 1: a catalog target covering the whole period, the narrowest first; a sum KPI's target for a longer
-- period is phased to the row's share of its days
covering_targets as (

    select
        kpi_id,
        grain,
        period_start,
        target_type,
        {%- for column in bounds %}
        {{ column }} * phase as {{ column }},
        {%- endfor %}
        case when phase < 1 then 'catalog_phased' else 'catalog' end as target_origin
    from (
        select
            total_rows.kpi_id,
            total_rows.grain,
            total_rows.period_start,
            catalog_targets.target_type,
            {%- for column in bounds %}
            catalog_targets.{{ column }},
            {%- endfor %}
            case
                when total_rows.aggregation = 'sum'
                    then cast(total_rows.period_days as {{ kpi_alignment.type_double() }}) / catalog_targets.target_days
                else 1.0
            end as phase,
            row_number() over (
                partition by total_rows.kpi_id, total_rows.grain, total_rows.period_start
                order by catalog_targets.target_days, catalog_targets.target_period_start desc
            ) as target_rank
        from total_rows
        inner join catalog_targets
            on catalog_targets.kpi_id = total_rows.kpi_id
            and catalog_targets.target_period_start <= total_rows.period_start
            and catalog_targets.target_period_end >= total_rows.period_end
    ) as ranked
    where target_rank = 1

),

-- rule 2 (sum KPIs): catalog targets of one type lying inside the period and adding up to all of its days
-- (e.g. twelve monthly targets for a year) are summed
summed_targets as (

    select
        total_rows.kpi_id,
        total_rows.grain,
        total_rows.period_start,
        min(catalog_targets.target_type) as target_type,
        {%- for column in bounds %}
        case when count(catalog_targets.{{ column }}) = count(*) then fsum(catalog_targets.{{ column }}) end
            as {{ column }},
        {%- endfor %}
        'rolled_up' as target_origin
    from total_rows
    inner join catalog_targets
        on catalog_targets.kpi_id = total_rows.kpi_id
        and catalog_targets.target_period_start >= total_rows.period_start
        and catalog_targets.target_period_end <= total_rows.period_end
    where total_rows.aggregation = 'sum'
    group by total_rows.kpi_id, total_rows.grain, total_rows.period_start, total_rows.period_days
    having count(distinct catalog_targets.target_type) = 1
        and sum(catalog_targets.target_days) = total_rows.period_days

),

-- the catalog target of each KPI's own-grain '*' row (rule 1 or 2), the input of rule 3
native_targets as (

    select
        total_rows.kpi_id,
        total_rows.period_start,
        total_rows.aggregation,
        total_rows.denominator_sum,
        total_rows.n_value_observations,
        coalesce(covering_targets.target_type, summed_targets.target_type) as target_type,
        {%- for column in bounds %}
        case when covering_targets.kpi_id is not null then covering_targets.{{ column }}
            else summed_targets.{{ column }} end as {{ column }},
        {%- endfor %}
        total_rows.period_start as native_period_start
    from total_rows
    left join covering_targets
        on covering_targets.kpi_id = total_rows.kpi_id
        and covering_targets.grain = total_rows.grain
        and covering_targets.period_start = total_rows.period_start
    left join summed_targets
        on summed_targets.kpi_id = total_rows.kpi_id
        and summed_targets.grain = total_rows.grain
        and summed_targets.period_start = total_rows.period_start
    where total_rows.is_native_grain

),

-- rule 3 (other aggregations, coarser grains): when every own-grain period with data in the coarser period
-- has a catalog target of one type, they combine like the values do: ratio weighted by the denominator,
-- average by the number of observations, last / min / max the latest period's target
native_in_coarse as (

    select
        coarse.kpi_id,
        coarse.grain,
        coarse.period_start,
        coarse.aggregation,
        native_targets.target_type,
        {%- for column in bounds %}
        native_targets.{{ column }},
        {%- endfor %}
        native_targets.denominator_sum,
        native_targets.n_value_observations,
        row_number() over (
            partition by coarse.kpi_id, coarse.grain, coarse.period_start
            order by native_targets.native_period_start desc
        ) as recency
    from total_rows as coarse
    inner join native_targets
        on native_targets.kpi_id = coarse.kpi_id
        and native_targets.native_period_start >= coarse.period_start
        and native_targets.native_period_start <= coarse.period_end
    where not coarse.is_native_grain
        and coarse.aggregation <> 'sum'

),

rolled_targets as (

    select
        kpi_id,
        grain,
        period_start,
        min(target_type) as target_type,
        {%- for column in bounds %}
        case min(aggregation)
            when 'ratio' then coalesce(
                fsum({{ column }} * denominator_sum) / nullif(fsum(case when {{ column }} is not null
                    then denominator_sum end), 0),
                fsum({{ column }}) / nullif(count({{ column }}), 0))
            when 'average' then
                fsum({{ column }} * n_value_observations) / nullif(sum(case when {{ column }} is not null
                    then n_value_observations end), 0)
            else max(case when recency = 1 then {{ column }} end)
        end as {{ column }},
        {%- endfor %}
        'rolled_up' as target_origin
    from native_in_coarse
    group by kpi_id, grain, period_start
    having count(target_type) = count(*)
        and count(distinct target_type) = 1

),

final as (

    select
        valued.kpi_id,
        valued.kpi_grain,
        valued.grain,
        valued.is_native_grain,
        valued.period_start,
        valued.period_end,
        valued.dimension,
        valued.aggregation,
        valued.direction,
        valued.actual_value,
        case when valued.aggregation = 'ratio' then valued.numerator_sum end as numerator_value,
        case when valued.aggregation = 'ratio' then valued.denominator_sum end as denominator_value,
        case
            when covering_targets.kpi_id is not null then covering_targets.target_value
            when summed_targets.kpi_id is not null then summed_targets.target_value
            when rolled_targets.kpi_id is not null then rolled_targets.target_value
            else valued.source_target_value
        end as target_value,
        case
            when covering_targets.kpi_id is not null then covering_targets.target_type
            when summed_targets.kpi_id is not null then summed_targets.target_type
            when rolled_targets.kpi_id is not null then rolled_targets.target_type
            when valued.source_target_value is null then null
            when valued.direction = 'lower_is_better' then 'at_most'
            else 'at_least'
        end as target_type,
        {%- for column in bounds[1:] %}
        coalesce(covering_targets.{{ column }}, summed_targets.{{ column }}, rolled_targets.{{ column }})
            as target_{{ column }},
        {%- endfor %}
        case
            when covering_targets.kpi_id is not null then covering_targets.target_origin
            when summed_targets.kpi_id is not null then summed_targets.target_origin
            when rolled_targets.kpi_id is not null then rolled_targets.target_origin
            when valued.source_target_value is not null then 'source'
        end as target_origin,
        valued.n_observations,
        valued.n_value_observations,
        valued.last_observation_date
    from valued
    left join covering_targets
        on covering_targets.kpi_id = valued.kpi_id
        and covering_targets.grain = valued.grain
        and covering_targets.period_start = valued.period_start
        and valued.dimension = '*'
    left join summed_targets
        on summed_targets.kpi_id = valued.kpi_id
        and summed_targets.grain = valued.grain
        and summed_targets.period_start = valued.period_start
        and valued.dimension = '*'
    left join rolled_targets
        on rolled_targets.kpi_id = valued.kpi_id
        and rolled_targets.grain = valued.grain
        and rolled_targets.period_start = valued.period_start
        and valued.dimension = '*'

)

select * from final
