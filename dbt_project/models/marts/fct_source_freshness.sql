-- Data freshness per source, for the report (kpi_alignment/report): when each source last delivered new data,
-- what its latest load did (files failed, rows rejected), how many rows it holds, and when its next delivery
-- is due. One row per source that ever attempted a load (raw.file_loads, CSV files and API runs alike).
-- The due date uses var source_expected_every (source name -> day | week | month | quarter | year, from each
-- source's `expected_every`, passed by the pipeline) plus var grace_days of that grain (macros/staleness.sql):
--     expected_by = last_new_data_at + 1 <expected_every> + grace_days[expected_every] days
-- Whether it is overdue depends on the wall clock, so the report judges it when it is written.
{%- set grains = ['day', 'week', 'month', 'quarter', 'year'] %}
{%- set configured = var('source_expected_every', {}) or {} %}
{%- if configured is not mapping %}
    {{ exceptions.raise_compiler_error(
        "var source_expected_every must be a mapping source -> grain, got '" ~ configured ~ "'") }}
{%- endif %}
{%- set grace_days = kpi_alignment.grace_days_by_grain() %}

with

file_loads as (

    select * from {{ ref('stg_raw__file_loads') }}

),

run_context as (

    select evaluation_date from {{ ref('stg_catalog__run_context') }}

),

-- one row per load run of a source (a load id covers every file of the source in one asset run)
loads as (

    select
        source_name,
        load_id,
        max(loaded_at) as loaded_at,
        count(*) as n_files,
        count(case when load_status = 'failed' then 1 end) as n_files_failed,
        sum(coalesce(rows_loaded, 0)) as rows_loaded,
        sum(coalesce(rows_rejected, 0)) as rows_rejected,
        {{ dbt.listagg(
            "case when load_status = 'failed' then source_file || ': ' || coalesce(message, 'failed') end",
            "'; '", 'order by source_file') }} as failures
    from file_loads
    group by source_name, load_id

),

latest_load as (

    select *
    from (
        select
            loads.*,
            row_number() over (partition by source_name order by loaded_at desc, load_id desc) as recency
        from loads
    ) ranked
    where recency = 1

),

-- the rows a file holds now: its latest attempt that wrote (a failed or unchanged attempt keeps them)
held_per_file as (

    select source_name, source_file, rows_loaded
    from (
        select
            source_name,
            source_file,
            rows_loaded,
            row_number() over (
                partition by source_name, source_file order by loaded_at desc, load_id desc
            ) as recency
        from file_loads
        where load_status in ('loaded', 'replaced', 'empty')
    ) ranked
    where recency = 1

),

newest_file as (

    select source_name, source_file, loaded_at
    from (
        select
            source_name,
            source_file,
            loaded_at,
            row_number() over (partition by source_name order by loaded_at desc, source_file desc) as recency
        from file_loads
        where load_status in ('loaded', 'replaced')
    ) ranked
    where recency = 1

),

per_source as (

    select
        source_name,
        count(distinct source_file) as n_files,
        max(case when load_status <> 'failed' then loaded_at end) as last_success_at,
        max(loaded_at) as last_attempt_at
    from file_loads
    group by source_name

),

held as (

    select source_name, sum(coalesce(rows_loaded, 0)) as rows_held
    from held_per_file
    group by source_name

),

expected as (

    select
        per_source.source_name,
        {%- set declared = [] %}
        {%- for name, every in configured.items() if every in grains %}
            {%- do declared.append((name, every)) %}
        {%- endfor %}
        {%- if declared %}
        case per_source.source_name
            {%- for name, every in declared %}
            when '{{ name | replace("'", "''") }}' then '{{ every }}'
            {%- endfor %}
        end as expected_every
        {%- else %}
        -- no source declares expected_every
        cast(null as {{ dbt.type_string() }}) as expected_every
        {%- endif %}
    from per_source

),

final as (

    select
        cast(per_source.source_name as {{ dbt.type_string() }}) as source_name,
        cast(expected.expected_every as {{ dbt.type_string() }}) as expected_every,
        cast(per_source.n_files as {{ dbt.type_bigint() }}) as n_files,
        cast(coalesce(held.rows_held, 0) as {{ dbt.type_bigint() }}) as rows_held,
        cast(per_source.last_attempt_at as {{ dbt.type_timestamp() }}) as last_attempt_at,
        cast(latest_load.load_id as {{ dbt.type_string() }}) as last_load_id,
        cast(latest_load.n_files as {{ dbt.type_bigint() }}) as last_load_files,
        cast(latest_load.n_files_failed as {{ dbt.type_bigint() }}) as last_load_files_failed,
        cast(latest_load.rows_loaded as {{ dbt.type_bigint() }}) as last_load_rows_loaded,
        cast(latest_load.rows_rejected as {{ dbt.type_bigint() }}) as last_load_rows_rejected,
        cast(latest_load.failures as {{ dbt.type_string() }}) as last_load_failures,
        cast(per_source.last_success_at as {{ dbt.type_timestamp() }}) as last_success_at,
        cast(newest_file.loaded_at as {{ dbt.type_timestamp() }}) as last_new_data_at,
        cast(newest_file.source_file as {{ dbt.type_string() }}) as last_new_file,
        cast(
            case expected.expected_every
                {%- for every in grains %}
                when '{{ every }}' then {{ dbt.dateadd('day', grace_days[every] | int,
                    dbt.dateadd(every, 1, 'newest_file.loaded_at')) }}
                {%- endfor %}
            end
        as {{ dbt.type_timestamp() }}) as expected_by,
        cast(run_context.evaluation_date as date) as evaluation_date
    from per_source
    cross join run_context
    left join latest_load
        on latest_load.source_name = per_source.source_name
    left join held
        on held.source_name = per_source.source_name
    left join newest_file
        on newest_file.source_name = per_source.source_name
    left join expected
        on expected.source_name = per_source.source_name

)

select * from final
