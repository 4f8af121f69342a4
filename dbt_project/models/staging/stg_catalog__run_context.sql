{%- set override = kpi_alignment.evaluation_date_override() -%}

with

run_context as (

    select * from {{ source('catalog', 'run_context') }}

),

-- always exactly one row, so every model can cross join it; a missing evaluation date fails its not_null test
one_row as (

    select
        {% if override -%}
        {{ override }} as evaluation_date,
        'var evaluation_date' as evaluation_date_origin,
        {%- else -%}
        (select max(evaluation_date) from run_context) as evaluation_date,
        'catalog.run_context' as evaluation_date_origin,
        {%- endif %}
        (select max(catalog_revision) from run_context) as catalog_revision,
        (select max(project_name) from run_context) as project_name,
        (select max(loaded_at) from run_context) as catalog_loaded_at,
        (select count(*) from run_context) as n_run_context_rows

)

select * from one_row
