{#
    Scoring rules shared by int_kpi_scores and int_objective_scores. Every formula, its source and its edge cases
    are documented in models/intermediate/_int_scoring.yml; the macros below are the one place they are written.

    grain_rank(grain):          day 1 < week 2 < month 3 < quarter 4 < year 5 (coarser = larger).
    period_days(start, end):    days in [start, end], both inclusive.
    attainment(...):            direction-aware attainment (1 = target met exactly) by target type.
    score_from_attainment(a):   100 * a capped to 0..100.
    rag_status(...):            first-match RAG rules on a 0..100 score.
    rag_thresholds():           the validated var rag_thresholds {green_at, amber_at} (defaults 95 / 80).
    objective_score_grains():   the validated var objective_score_grains (default [month, quarter, year]).
#}

{% macro grain_rank(grain_expr) -%}
    case {{ grain_expr }}
        when 'day' then 1
        when 'week' then 2
        when 'month' then 3
        when 'quarter' then 4
        when 'year' then 5
    end
{%- endmacro %}

{% macro period_days(start_expr, end_expr) -%}
    ({{ dbt.datediff(start_expr, end_expr, 'day') }} + 1)
{%- endmacro %}

{#
    Attainment of `actual` against the time-phased target `expected` (1.0 = exactly on target):
      at_least / increase_to (higher is better)  actual / expected            when expected > 0 and actual >= 0
      at_most / decrease_to (lower is better)    expected / actual            when actual > 0 and expected >= 0
      increase_to / decrease_to with baseline    (actual - baseline) / (expected - baseline), when they differ
      range [lower, upper]                       1 inside; outside 1 - distance / (upper - lower), floor 0;
                                                 a zero-width band gives 0 outside
      boolean                                    1 when actual = expected, else 0
    Where a ratio is undefined (zero target for higher-is-better, zero actual for lower-is-better, negative
    values) attainment is 1 when the target is met (actual >= expected, resp. <= expected) and 0 otherwise.
#}
{% macro attainment(target_type, actual, expected, baseline, lower, upper) -%}
    case
        when {{ actual }} is null or {{ target_type }} is null then null
        when {{ target_type }} = 'range' then
            case
                when {{ lower }} is null or {{ upper }} is null then null
                when {{ actual }} >= {{ lower }} and {{ actual }} <= {{ upper }} then 1.0
                when {{ upper }} > {{ lower }} then
                    greatest(0.0, 1.0 - (
                        case when {{ actual }} < {{ lower }} then {{ lower }} - {{ actual }}
                            else {{ actual }} - {{ upper }} end
                    ) / ({{ upper }} - {{ lower }}))
                else 0.0
            end
        when {{ expected }} is null then null
        when {{ target_type }} = 'boolean' then
            case when {{ actual }} = {{ expected }} then 1.0 else 0.0 end
        when {{ target_type }} in ('increase_to', 'decrease_to')
            and {{ baseline }} is not null and {{ baseline }} <> {{ expected }} then
            ({{ actual }} - {{ baseline }}) / ({{ expected }} - {{ baseline }})
        when {{ target_type }} in ('at_least', 'increase_to') then
            case
                when {{ expected }} > 0 and {{ actual }} >= 0 then {{ actual }} / {{ expected }}
                when {{ actual }} >= {{ expected }} then 1.0
                else 0.0
            end
        when {{ target_type }} in ('at_most', 'decrease_to') then
            case
                when {{ actual }} > 0 and {{ expected }} >= 0 then {{ expected }} / {{ actual }}
                when {{ actual }} <= {{ expected }} then 1.0
                else 0.0
            end
    end
{%- endmacro %}

{% macro score_from_attainment(attainment_expr) -%}
    case
        when {{ attainment_expr }} is null then null
        else 100.0 * greatest(0.0, least(1.0, {{ attainment_expr }}))
    end
{%- endmacro %}

{# First match: no data, no target (no score), green, amber, red. #}
{% macro rag_status(actual, score, green_at, amber_at) -%}
    case
        when {{ actual }} is null then 'no_data'
        when {{ score }} is null then 'no_target'
        when {{ score }} >= {{ green_at }} then 'green'
        when {{ score }} >= {{ amber_at }} then 'amber'
        else 'red'
    end
{%- endmacro %}

{% macro rag_thresholds() -%}
    {%- set raw = var('rag_thresholds', {}) or {} -%}
    {%- if raw is not mapping -%}
        {{ exceptions.raise_compiler_error("var rag_thresholds must be a mapping {green_at: .., amber_at: ..}, got '"
            ~ raw ~ "'") }}
    {%- endif -%}
    {%- set out = {} -%}
    {%- for key, default in [('green_at', 95), ('amber_at', 80)] -%}
        {%- set value = raw.get(key, default) -%}
        {%- set text = value | string | trim -%}
        {%- if not modules.re.match('^\d+(\.\d+)?$', text) or (text | float) > 100 -%}
            {{ exceptions.raise_compiler_error(
                "var rag_thresholds." ~ key ~ " must be a number from 0 to 100, got '" ~ value ~ "'") }}
        {%- endif -%}
        {%- do out.update({key: text | float}) -%}
    {%- endfor -%}
    {%- if out['amber_at'] > out['green_at'] -%}
        {{ exceptions.raise_compiler_error("var rag_thresholds: amber_at (" ~ out['amber_at']
            ~ ") is above green_at (" ~ out['green_at'] ~ ")") }}
    {%- endif -%}
    {{ return(out) }}
{%- endmacro %}

{% macro objective_score_grains() -%}
    {%- set raw = var('objective_score_grains', ['month', 'quarter', 'year']) -%}
    {%- set names = (raw.split(',') if raw is string else (raw or [])) | map('string') | map('trim') | list -%}
    {%- for name in names if name not in ('day', 'week', 'month', 'quarter', 'year') -%}
        {{ exceptions.raise_compiler_error(
            "var objective_score_grains lists '" ~ name ~ "'; allowed: day, week, month, quarter, year") }}
    {%- endfor -%}
    {%- if names | length == 0 -%}
        {{ exceptions.raise_compiler_error("var objective_score_grains must name at least one grain") }}
    {%- endif -%}
    {{ return(names) }}
{%- endmacro %}

{#
    The value of `column` of `relation`, cast to `data_type`, or a typed null when the relation has no such
    column: catalog columns added later (e.g. catalog.kpis.rag_green_at) must not break a warehouse written by
    an older loader. Decided when the model runs (at parse time there is no warehouse to ask).
#}
{% macro column_or_null(relation, column, data_type) -%}
    {%- if execute -%}
        {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
        {%- if column | lower in names -%}
            {{ return('cast(' ~ column ~ ' as ' ~ data_type ~ ')') }}
        {%- endif -%}
    {%- endif -%}
    {{ return('cast(null as ' ~ data_type ~ ')') }}
{%- endmacro %}
