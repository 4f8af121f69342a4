{#
    Identifier rule (case B28), declared once here and used for every id the models compare:

    1. normalize_id: surrounding whitespace is removed and a blank id becomes null ("OBJ-2 " is "OBJ-2"),
       the same rule the catalog YAML applies (kpi_alignment/catalog.py: ids are stripped, case kept).
    2. resolve_id: a reference (a link's objective id, a parent id, a metric mapping's KPI id) resolves to the
       catalog id it equals after normalize_id; failing that, to the one catalog id it equals ignoring letter
       case ("obj-2" -> "OBJ-2") when exactly one such id exists. No match leaves the normalised reference,
       which the alignment models then report as unknown.
    3. id_cleanup_reason: every id that needed step 1 or the case fallback of step 2 is reported (column
       id_needed_cleanup / *_cleanup_reason in the marts), never silently fixed.
#}

{% macro normalize_id(expression) -%}
    {{ return(adapter.dispatch('normalize_id', 'kpi_alignment')(expression)) }}
{%- endmacro %}

{% macro default__normalize_id(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}

{# DuckDB's trim() removes spaces only; also strip tabs, line breaks, no-break spaces and stray BOMs, as
   Python's str.strip() does for the YAML catalog. #}
{% macro duckdb__normalize_id(expression) -%}
    nullif(regexp_replace({{ expression }}, '^[\s\x{00A0}\x{FEFF}]+|[\s\x{00A0}\x{FEFF}]+$', '', 'g'), '')
{%- endmacro %}

{#
    The catalog id a reference resolves to (rule 2 above), or the normalised reference when none matches.
    ids_relation must hold each id at most once (the staging models de-duplicate).
#}
{% macro resolve_id(reference, ids_relation, id_column) -%}
    coalesce(
        (
            select min(resolve_exact.{{ id_column }})
            from {{ ids_relation }} as resolve_exact
            where resolve_exact.{{ id_column }} = {{ kpi_alignment.normalize_id(reference) }}
        ),
        (
            select min(resolve_folded.{{ id_column }})
            from {{ ids_relation }} as resolve_folded
            where lower(resolve_folded.{{ id_column }}) = lower({{ kpi_alignment.normalize_id(reference) }})
            having count(*) = 1
        ),
        {{ kpi_alignment.normalize_id(reference) }}
    )
{%- endmacro %}

{#
    Why an id as written differs from the id used, or null when it needed no clean-up.
    as_written: the raw column; used: the normalised or resolved id.
#}
{% macro id_cleanup_reason(as_written, used) -%}
    case
        when {{ as_written }} is null then null
        when {{ kpi_alignment.normalize_id(as_written) }} is null then 'blank id'
        when {{ used }} is null then null
        when {{ as_written }} <> {{ kpi_alignment.normalize_id(as_written) }}
            and {{ kpi_alignment.normalize_id(as_written) }} <> {{ used }}
            then 'surrounding whitespace and letter case'
        when {{ as_written }} <> {{ kpi_alignment.normalize_id(as_written) }} then 'surrounding whitespace'
        when {{ as_written }} <> {{ used }} then 'letter case'
    end
{%- endmacro %}
