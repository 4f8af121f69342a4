-- Data age per owner and evaluation date ever judged (from int_kpi_status_log): for the owner's KPIs that are not
-- retired, how old their newest values are. data_age_days of a KPI = days from the end of the latest period with
-- a value to the evaluation date (0 while that period runs; null = no value yet). KPIs without an owner are
-- grouped under '(no owner)' so that the key is never null (case B17).

with

kpi_log as (

    select
        evaluation_date,
        coalesce(owner, '(no owner)') as owner,
        kpi_id,
        status,
        last_value_date,
        data_age_days
    from {{ ref('int_kpi_status_log') }}
    where status <> 'retired'

),

oldest as (

    select evaluation_date, owner, kpi_id as oldest_kpi_id
    from (
        select
            evaluation_date,
            owner,
            kpi_id,
            row_number() over (
                partition by evaluation_date, owner
                order by case when data_age_days is null then 1 else 0 end, data_age_days desc, kpi_id
            ) as pick
        from kpi_log
        where data_age_days is not null
    ) as ranked
    where pick = 1

),

counts as (

    select
        evaluation_date,
        owner,
        count(*) as n_kpis,
        count(case when status = 'connected' then 1 end) as n_kpis_connected,
        count(case when status = 'silent' then 1 end) as n_kpis_silent,
        count(case when status = 'unfed' then 1 end) as n_kpis_unfed,
        count(case when last_value_date is null then 1 end) as n_kpis_without_value,
        max(data_age_days) as max_data_age_days,
        avg(data_age_days) as avg_data_age_days,
        max(last_value_date) as newest_value_date,
        min(last_value_date) as oldest_value_date
    from kpi_log
    group by evaluation_date, owner

),

final as (

    select
        cast(counts.evaluation_date as date) as evaluation_date,
        cast(counts.owner as {{ dbt.type_string() }}) as owner,
        cast(counts.n_kpis as {{ dbt.type_bigint() }}) as n_kpis,
        cast(counts.n_kpis_connected as {{ dbt.type_bigint() }}) as n_kpis_connected,
        cast(counts.n_kpis_silent as {{ dbt.type_bigint() }}) as n_kpis_silent,
        cast(counts.n_kpis_unfed as {{ dbt.type_bigint() }}) as n_kpis_unfed,
        cast(counts.n_kpis_without_value as {{ dbt.type_bigint() }}) as n_kpis_without_value,
        cast(counts.max_data_age_days as integer) as max_data_age_days,
        cast(counts.avg_data_age_days as {{ kpi_alignment.type_double() }}) as avg_data_age_days,
        cast(counts.newest_value_date as date) as newest_value_date,
        cast(counts.oldest_value_date as date) as oldest_value_date,
        cast(oldest.oldest_kpi_id as {{ dbt.type_string() }}) as oldest_kpi_id
    from counts
    left join oldest
        on oldest.evaluation_date = counts.evaluation_date
        and oldest.owner = counts.owner

)

select * from final
