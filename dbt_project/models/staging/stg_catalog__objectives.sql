-- The catalog's objectives (YAML) and those sources derive from their own columns, one row per objective id.
-- An id defined in both keeps the YAML definition (curated beats derived). Rows without an id are kept so that
-- dim_objectives can report them (case B28).

with

catalog_objectives as (

    select
        objective_id, name, description, level, parent_objective_id, owner,
        time_frame_start, time_frame_end, status, catalog_file,
        'catalog' as origin,
        cast(null as {{ dbt.type_string() }}) as source_name,
        1 as origin_rank
    from {{ source('catalog', 'objectives') }}

),

source_objectives as (

    select
        objective_id, name, description, level, parent_objective_id, owner,
        time_frame_start, time_frame_end, status, catalog_file,
        'source' as origin,
        source_name,
        2 as origin_rank
    from {{ source('raw', 'source_objectives') }}

),

unioned as (

    select * from catalog_objectives
    union all
    select * from source_objectives

),

renamed as (

    select
        {{ kpi_alignment.normalize_id('objective_id') }} as objective_id,
        objective_id as objective_id_as_written,
        trim(name) as name,
        description,
        lower(trim(level)) as level,
        {{ kpi_alignment.normalize_id('parent_objective_id') }} as parent_objective_id,
        parent_objective_id as parent_objective_id_as_written,
        owner,
        cast(time_frame_start as date) as time_frame_start,
        cast(time_frame_end as date) as time_frame_end,
        lower(trim(status)) as catalog_status,
        origin,
        source_name,
        catalog_file,
        origin_rank
    from unioned

),

ranked as (

    select
        *,
        row_number() over (
            partition by objective_id
            order by origin_rank, source_name, catalog_file, name
        ) as definition_rank,
        count(*) over (partition by objective_id) as n_definitions
    from renamed

),

final as (

    select
        objective_id,
        objective_id_as_written,
        {{ kpi_alignment.id_cleanup_reason('objective_id_as_written', 'objective_id') }} as id_cleanup_reason,
        name,
        description,
        level,
        parent_objective_id,
        parent_objective_id_as_written,
        owner,
        time_frame_start,
        time_frame_end,
        catalog_status,
        origin,
        source_name,
        catalog_file,
        case when objective_id is null then 1 else n_definitions end as n_definitions
    from ranked
    where objective_id is null or definition_rank = 1

)

select * from final
