-- Objectives (with an id, parent resolved) as the catalog stood for this evaluation: the version of snp_catalog__objectives valid at
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

    select * from {{ ref('snp_catalog__objectives') }}

),

final as (

    select
        versions.objective_id,
        versions.objective_id_as_written,
        versions.id_cleanup_reason,
        versions.name,
        versions.description,
        versions.level,
        versions.parent_objective_id,
        versions.parent_objective_id_as_written,
        versions.parent_known,
        versions.parent_id_cleanup_reason,
        versions.owner,
        versions.time_frame_start,
        versions.time_frame_end,
        versions.catalog_status,
        versions.origin,
        versions.source_name,
        versions.catalog_file,
        versions.n_definitions
    from versions
    cross join evaluation
    where versions.dbt_valid_from <= evaluation.catalog_as_of
        and (versions.dbt_valid_to is null or versions.dbt_valid_to > evaluation.catalog_as_of)

)

select * from final
