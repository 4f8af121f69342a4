-- Metric names arriving in the data that no KPI claims (int_unmapped_metrics), with the KPIs whose metric they
-- may have replaced (int_metric_rename_candidates): the other half of an upstream rename (case B18).

with

unmapped as (

    select * from {{ ref('int_unmapped_metrics') }}

),

candidates as (

    select
        metric_name,
        source_name,
        {{ dbt.listagg('kpi_id', "', '", 'order by kpi_id') }} as renamed_from_kpi_ids,
        {{ dbt.listagg("'''' || kpi_metric_name || ''' (KPI ' || kpi_id || coalesce(', last row '
            || cast(kpi_last_row_date as " ~ dbt.type_string() ~ "), ', no row') || ')'", "', '",
            'order by kpi_metric_name, kpi_id') }} as renamed_from_text
    from {{ ref('int_metric_rename_candidates') }}
    group by metric_name, source_name

),

run_context as (

    select evaluation_date from {{ ref('stg_catalog__run_context') }}

),

final as (

    select
        cast(unmapped.metric_name as {{ dbt.type_string() }}) as metric_name,
        cast(unmapped.source_name as {{ dbt.type_string() }}) as source_name,
        cast(unmapped.first_row_date as date) as first_row_date,
        cast(unmapped.last_row_date as date) as last_row_date,
        cast(unmapped.n_rows as {{ dbt.type_bigint() }}) as n_rows,
        cast(unmapped.n_values as {{ dbt.type_bigint() }}) as n_values,
        cast(candidates.renamed_from_kpi_ids as {{ dbt.type_string() }}) as renamed_from_kpi_ids,
        cast(
            'metric ''' || unmapped.metric_name || ''' from source ' || coalesce(unmapped.source_name, 'unknown')
            || ' arrives since ' || cast(unmapped.first_row_date as {{ dbt.type_string() }})
            || ' but no KPI claims it'
            || coalesce('; renamed? it looks like ' || candidates.renamed_from_text
                || ', which stopped arriving - add it to that KPI''s metrics as an alias', '')
            || '.'
        as {{ dbt.type_string() }}) as note,
        cast(run_context.evaluation_date as date) as evaluation_date
    from unmapped
    cross join run_context
    left join candidates
        on candidates.metric_name = unmapped.metric_name
        and candidates.source_name = unmapped.source_name

)

select * from final
