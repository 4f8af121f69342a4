{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='evaluation_date',
    on_schema_change='append_new_columns',
    full_refresh=false,
) }}
-- depends_on: {{ ref('snp_catalog__objectives') }}
-- depends_on: {{ ref('snp_catalog__kpis') }}
-- depends_on: {{ ref('snp_catalog__kpi_links') }}
-- depends_on: {{ ref('snp_catalog__kpi_metrics') }}
-- One row per evaluation date ever judged, and which version of the catalog it is judged with (catalog_as_of,
-- an instant on the snapshots' clock; the int_*_as_of models read the snapshot versions valid at it).
--   * A run for a date on or after the latest date judged so far (the nightly case, or re-running tonight
--     after fixing the catalog) uses the catalog as it is now: catalog_as_of = now, after this build's
--     snapshots.
--   * A run for an earlier date is a restatement: it reuses the catalog that date was judged with (or, for a
--     date never judged, the catalog of the latest date judged before it), so it reproduces the statuses
--     computed then. A date before the first one ever judged has no catalog history: the current catalog is
--     used.
-- Incremental and never fully refreshed (full_refresh=false): this table is history.

with

run_context as (

    select evaluation_date, catalog_revision from {{ ref('stg_catalog__run_context') }}

),

previous_runs as (

    {% if is_incremental() -%}
    select evaluation_date, catalog_as_of from {{ this }}
    {%- else -%}
    select
        cast(null as date) as evaluation_date,
        cast(null as {{ dbt.type_timestamp() }}) as catalog_as_of
    from run_context
    where 1 = 0
    {%- endif %}

),

judged as (

    select
        run_context.evaluation_date,
        run_context.catalog_revision,
        run_context.evaluation_date < (select max(evaluation_date) from previous_runs) as is_restatement,
        (
            select max(previous_runs.evaluation_date)
            from previous_runs
            where previous_runs.evaluation_date <= run_context.evaluation_date
        ) as reused_evaluation_date
    from run_context

),

final as (

    select
        judged.evaluation_date,
        coalesce(judged.is_restatement, false) as is_restatement,
        case
            when judged.is_restatement and judged.reused_evaluation_date is not null
                then (
                    select previous_runs.catalog_as_of
                    from previous_runs
                    where previous_runs.evaluation_date = judged.reused_evaluation_date
                )
            else {{ snapshot_get_time() }}
        end as catalog_as_of,
        -- the evaluation date whose catalog is used (this one, unless a restatement reuses an earlier run's)
        case
            when judged.is_restatement and judged.reused_evaluation_date is not null
                then judged.reused_evaluation_date
            else judged.evaluation_date
        end as catalog_of_evaluation_date,
        judged.catalog_revision,
        {{ snapshot_get_time() }} as recorded_at
    from judged

)

select * from final
