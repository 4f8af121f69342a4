-- The catalog's KPIs (YAML) and those sources derive from their own columns, one row per KPI id.
-- An id defined in both keeps the YAML definition (curated beats derived). Rows without an id are kept so that
-- dim_kpis can report them. rag_green_at / rag_amber_at (a KPI's own RAG thresholds, catalog `rag:` block) are
-- read when the table has them (macros/scoring.sql column_or_null), so an older warehouse still builds.

with

catalog_kpis as (

    select
        kpi_id, name, description, unit, direction, aggregation, grain, owner, status,
        parent_kpi_id, expected_within_days, catalog_file,
        {{ kpi_alignment.column_or_null(source('catalog', 'kpis'), 'rag_green_at', kpi_alignment.type_double()) }} as rag_green_at,
        {{ kpi_alignment.column_or_null(source('catalog', 'kpis'), 'rag_amber_at', kpi_alignment.type_double()) }} as rag_amber_at,
        'catalog' as origin,
        cast(null as {{ dbt.type_string() }}) as source_name,
        1 as origin_rank
    from {{ source('catalog', 'kpis') }}

),

source_kpis as (

    select
        kpi_id, name, description, unit, direction, aggregation, grain, owner, status,
        parent_kpi_id, expected_within_days, catalog_file,
        {{ kpi_alignment.column_or_null(source('raw', 'source_kpis'), 'rag_green_at', kpi_alignment.type_double()) }} as rag_green_at,
        {{ kpi_alignment.column_or_null(source('raw', 'source_kpis'), 'rag_amber_at', kpi_alignment.type_double()) }} as rag_amber_at,
        'source' as origin,
        source_name,
        2 as origin_rank
    from {{ source('raw', 'source_kpis') }}

),

unioned as (

    select * from catalog_kpis
    union all
    select * from source_kpis

),

renamed as (

    select
        {{ kpi_alignment.normalize_id('kpi_id') }} as kpi_id,
        kpi_id as kpi_id_as_written,
        trim(name) as kpi_name,
        description,
        unit,
        lower(trim(direction)) as direction,
        lower(trim(aggregation)) as aggregation,
        lower(trim(grain)) as grain,
        owner,
        lower(trim(status)) as catalog_status,
        {{ kpi_alignment.normalize_id('parent_kpi_id') }} as parent_kpi_id,
        parent_kpi_id as parent_kpi_id_as_written,
        cast(expected_within_days as integer) as expected_within_days,
        rag_green_at,
        rag_amber_at,
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
            partition by kpi_id
            order by origin_rank, source_name, catalog_file, kpi_name
        ) as definition_rank,
        count(*) over (partition by kpi_id) as n_definitions
    from renamed

),

final as (

    select
        kpi_id,
        kpi_id_as_written,
        {{ kpi_alignment.id_cleanup_reason('kpi_id_as_written', 'kpi_id') }} as id_cleanup_reason,
        kpi_name,
        description,
        unit,
        direction,
        aggregation,
        grain,
        owner,
        catalog_status,
        parent_kpi_id,
        parent_kpi_id_as_written,
        expected_within_days,
        rag_green_at,
        rag_amber_at,
        origin,
        source_name,
        catalog_file,
        case when kpi_id is null then 1 else n_definitions end as n_definitions
    from ranked
    where kpi_id is null or definition_rank = 1

)

select * from final
