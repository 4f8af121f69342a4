-- KPI -> source metric mappings (KPI resolved) as the catalog stood for this evaluation: the version of snp_catalog__kpi_metrics valid at
-- int_evaluation_runs.catalog_as_of (dbt_valid_from <= catalog_as_of < dbt_valid_to). For a normal run that is the
-- catalog just snapshotted; for a restatement of a past date, the catalog that date was judged with.

with

evaluation as (

    select runs.catalog_as_of
    from {{ ref('int_evaluation_runs') }} as runs
    inner join {{ ref('stg_catalog__run_context') }} as run_context
        on run_context.evaluation_date = runs.evaluation_date

),

versions as (

    select * from {{ ref('snp_catalog__kpi_metrics') }}

),

final as (

    select
        versions.metric_key,
        versions.kpi_id,
        versions.metric_name,
        versions.role
    from versions
    cross join evaluation
    where versions.dbt_valid_from <= evaluation.catalog_as_of
        and (versions.dbt_valid_to is null or versions.dbt_valid_to > evaluation.catalog_as_of)

)

select * from final
