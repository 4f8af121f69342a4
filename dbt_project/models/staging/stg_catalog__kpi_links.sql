-- KPI -> objective links from the YAML catalog and from sources, one row per (kpi, objective, valid_from).
-- Ids are normalised here; resolving them against the catalog (letter case) happens in int_kpi_links_evaluated.

with

catalog_links as (

    select
        kpi_id, objective_id, weight, informational, valid_from, valid_to,
        'catalog' as origin,
        cast(null as {{ dbt.type_string() }}) as source_name,
        1 as origin_rank
    from {{ source('catalog', 'kpi_links') }}

),

source_links as (

    select
        kpi_id, objective_id, weight, informational, valid_from, valid_to,
        'source' as origin,
        source_name,
        2 as origin_rank
    from {{ source('raw', 'source_kpi_links') }}

),

unioned as (

    select * from catalog_links
    union all
    select * from source_links

),

renamed as (

    select
        {{ kpi_alignment.normalize_id('kpi_id') }} as kpi_id,
        kpi_id as kpi_id_as_written,
        {{ kpi_alignment.normalize_id('objective_id') }} as objective_id,
        objective_id as objective_id_as_written,
        cast(coalesce(weight, 1.0) as {{ kpi_alignment.type_double() }}) as weight,
        coalesce(informational, false) as informational,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        origin,
        source_name,
        origin_rank
    from unioned

),

keyed as (

    select
        *,
        -- a link is identified by its KPI, objective and start; missing parts are spelled out so the key is
        -- never null (case B17)
        coalesce(kpi_id, '<no kpi id>')
            || ' -> ' || coalesce(objective_id, '<no objective id>')
            || ' from ' || coalesce(cast(valid_from as {{ dbt.type_string() }}), 'the start') as link_key
    from renamed

),

ranked as (

    select
        *,
        row_number() over (partition by link_key order by origin_rank, source_name) as definition_rank
    from keyed

)

select
    link_key,
    kpi_id,
    kpi_id_as_written,
    objective_id,
    objective_id_as_written,
    weight,
    informational,
    valid_from,
    valid_to,
    origin,
    source_name
from ranked
where definition_rank = 1
