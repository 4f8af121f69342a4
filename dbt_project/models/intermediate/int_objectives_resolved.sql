-- Objectives with an id and their parent reference resolved (macros/ids.sql): the catalog as it stands, with
-- nothing that depends on the evaluation date (snapshots/ keeps its history). Chains are judged in
-- int_objective_paths.

with

objectives as (

    select * from {{ ref('stg_catalog__objectives') }}
    where objective_id is not null

),

resolved as (

    select
        objectives.*,
        {{ kpi_alignment.resolve_id('objectives.parent_objective_id_as_written', ref('stg_catalog__objectives'), 'objective_id') }}
            as resolved_parent_objective_id
    from objectives

),

parents as (

    select objective_id from objectives

),

final as (

    select
        resolved.objective_id,
        resolved.objective_id_as_written,
        resolved.id_cleanup_reason,
        resolved.name,
        resolved.description,
        resolved.level,
        resolved.resolved_parent_objective_id as parent_objective_id,
        resolved.parent_objective_id_as_written,
        resolved.parent_objective_id is not null
            and exists (
                select 1 from parents where parents.objective_id = resolved.resolved_parent_objective_id
            ) as parent_known,
        {{ kpi_alignment.id_cleanup_reason('resolved.parent_objective_id_as_written', 'resolved.resolved_parent_objective_id') }}
            as parent_id_cleanup_reason,
        resolved.owner,
        resolved.time_frame_start,
        resolved.time_frame_end,
        resolved.catalog_status,
        resolved.origin,
        resolved.source_name,
        resolved.catalog_file,
        resolved.n_definitions
    from resolved

)

select * from final
