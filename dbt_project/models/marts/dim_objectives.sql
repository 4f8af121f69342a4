-- Every objective of the catalog (YAML and source-derived), including rows without an id, which the
-- not_null test on objective_id reports (case B28: a null id in the objectives table is itself a failure).

with

objectives as (

    select * from {{ ref('stg_catalog__objectives') }}

),

resolved as (

    select * from {{ ref('int_objectives_resolved') }}

),

paths as (

    select * from {{ ref('int_objective_paths') }}

),

run_context as (

    select evaluation_date from {{ ref('stg_catalog__run_context') }}

),

final as (

    select
        cast(objectives.objective_id as {{ dbt.type_string() }}) as objective_id,
        cast(objectives.objective_id_as_written as {{ dbt.type_string() }}) as objective_id_as_written,
        cast(objectives.id_cleanup_reason is not null
            or resolved.parent_id_cleanup_reason is not null as boolean) as id_needed_cleanup,
        cast(objectives.id_cleanup_reason as {{ dbt.type_string() }}) as id_cleanup_reason,
        cast(objectives.name as {{ dbt.type_string() }}) as name,
        cast(objectives.description as {{ dbt.type_string() }}) as description,
        cast(objectives.level as {{ dbt.type_string() }}) as level,
        cast(coalesce(resolved.parent_objective_id, objectives.parent_objective_id) as {{ dbt.type_string() }})
            as parent_objective_id,
        cast(resolved.parent_id_cleanup_reason as {{ dbt.type_string() }}) as parent_id_cleanup_reason,
        cast(objectives.owner as {{ dbt.type_string() }}) as owner,
        cast(objectives.time_frame_start as date) as time_frame_start,
        cast(objectives.time_frame_end as date) as time_frame_end,
        cast(objectives.catalog_status as {{ dbt.type_string() }}) as catalog_status,
        cast(paths.is_live as boolean) as is_live,
        cast(paths.reaches_live_strategic as boolean) as reaches_live_strategic,
        cast(paths.strategic_objective_id as {{ dbt.type_string() }}) as strategic_objective_id,
        cast(paths.objective_path as {{ dbt.type_string() }}) as objective_path,
        cast(paths.break_code as {{ dbt.type_string() }}) as break_code,
        cast(paths.break_text as {{ dbt.type_string() }}) as break_text,
        cast(objectives.origin as {{ dbt.type_string() }}) as origin,
        cast(objectives.source_name as {{ dbt.type_string() }}) as source_name,
        cast(objectives.catalog_file as {{ dbt.type_string() }}) as catalog_file,
        cast(objectives.n_definitions as integer) as n_definitions,
        cast(run_context.evaluation_date as date) as evaluation_date
    from objectives
    cross join run_context
    left join resolved
        on resolved.objective_id = objectives.objective_id
    left join paths
        on paths.objective_id = objectives.objective_id

)

select * from final
