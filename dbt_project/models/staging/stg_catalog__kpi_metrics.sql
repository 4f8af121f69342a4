-- Which source metric names feed which KPI, and in which role (value | numerator | denominator).
-- Several value names for one KPI are aliases of one series (e.g. revenue -> net_revenue after a rename).

with

catalog_metrics as (

    select kpi_id, metric_name, role, 'catalog' as origin
    from {{ source('catalog', 'kpi_metrics') }}

),

source_metrics as (

    select kpi_id, metric_name, role, 'source' as origin
    from {{ source('raw', 'source_kpi_metrics') }}

),

unioned as (

    select * from catalog_metrics
    union all
    select * from source_metrics

),

renamed as (

    select distinct
        {{ kpi_alignment.normalize_id('kpi_id') }} as kpi_id,
        {{ kpi_alignment.normalize_id('metric_name') }} as metric_name,
        lower(trim(role)) as role
    from unioned

)

select * from renamed
