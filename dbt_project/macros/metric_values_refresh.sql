{#
    Pre-hooks of the incremental model int_metric_values_latest (one row per source, metric, date and dimension:
    the latest version). Unit of refresh: the partition (source_name, metric_name, period_date).

    A partition is refreshed when
      * a load since the watermark wrote a row into it (a new file, a re-delivered file, an API run), or
      * it holds a row kept from a file (an API source: from a source) loaded again since the watermark: that
        load deleted the file's earlier rows, and the new version of the file may no longer have the key.
    "Since the watermark" means loaded_at > the newest loaded_at already in the model minus var
    metric_values_lookback_hours (default 0). Loads and builds take turns under the writer lock and a load stamps
    its rows once it holds the lock, so a load committed after a build is stamped after every load that build
    read; a lookback only re-reads more (time, never a wrong row), for clocks that may step back. (Re-reading the
    newest load, >=, would re-read a whole backfill every night.) Refreshed partitions are recomputed from every version in raw.metric_values, so a
    partition's result does not depend on how it was reached: incremental == full refresh.
#}

{% macro metric_value_partitions_to_refresh() %}
    {%- set api_sources = var('api_sources', []) or [] -%}
    create or replace temp table metric_value_partitions_to_refresh as
    with

    watermark as (

        select
            coalesce(max(loaded_at), cast('1900-01-01' as timestamp))
                - to_hours({{ var('metric_values_lookback_hours', 0) | int }}) as since
        from {{ this }}

    ),

    new_rows as (

        select source_name, source_file, metric_name, period_date
        from {{ ref('stg_raw__metric_values') }}
        where loaded_at > (select since from watermark)

    ),

    reloaded_files as (

        select distinct source_name, source_file from new_rows

    ),

    -- an API run may replace every row of its source (full refresh), whatever endpoint wrote them
    reloaded_sources as (

        select distinct source_name from new_rows
        where source_name in (
            {%- for name in api_sources %}'{{ name | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor -%}
            {%- if not api_sources %}null{% endif -%}
        )

    ),

    kept_rows as (

        select kept.source_name, kept.metric_name, kept.period_date
        from {{ this }} as kept
        inner join reloaded_files
            on reloaded_files.source_name = kept.source_name
            and reloaded_files.source_file = kept.source_file

        union all

        select kept.source_name, kept.metric_name, kept.period_date
        from {{ this }} as kept
        inner join reloaded_sources
            on reloaded_sources.source_name = kept.source_name

    )

    select source_name, metric_name, period_date from new_rows
    union
    select source_name, metric_name, period_date from kept_rows
{% endmacro %}

{% macro delete_metric_value_partitions_to_refresh() %}
    delete from {{ this }} as kept
    using metric_value_partitions_to_refresh as refresh
    where kept.source_name is not distinct from refresh.source_name
        and kept.metric_name is not distinct from refresh.metric_name
        and kept.period_date is not distinct from refresh.period_date
{% endmacro %}
