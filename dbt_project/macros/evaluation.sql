{#
    Helpers shared by the alignment models.

    evaluation_date_override(): the validated `evaluation_date` var as a SQL date literal, or none.

    derived_metric_models(): the `derived_metric_models` var as a list of model names (a YAML list, or a
    comma-separated string as typed on a command line).
#}

{% macro evaluation_date_override() -%}
    {%- set raw = var('evaluation_date', none) -%}
    {%- if raw is none or (raw | string | trim) in ('', 'None', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = raw | string | trim -%}
    {%- set parsed = none -%}
    {%- if modules.re.match('^\d{4}-\d{2}-\d{2}$', text) -%}
        {%- set parsed = modules.datetime.date.fromisoformat(text) -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "var evaluation_date must be a date YYYY-MM-DD, got '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return("cast('" ~ parsed.isoformat() ~ "' as date)") }}
{%- endmacro %}

{% macro derived_metric_models() -%}
    {%- set raw = var('derived_metric_models', []) -%}
    {%- if raw is none -%}
        {{ return([]) }}
    {%- elif raw is string -%}
        {%- set names = [] -%}
        {%- for part in raw.split(',') if part.strip() -%}
            {%- do names.append(part.strip()) -%}
        {%- endfor -%}
        {{ return(names) }}
    {%- else -%}
        {{ return(raw | list) }}
    {%- endif -%}
{%- endmacro %}

{# "OBJ-1 (Grow revenue)", or just the id when the name is missing: for the human sentences in cause_text. #}
{% macro label(id_expr, name_expr) -%}
    ({{ id_expr }} || coalesce(' (' || {{ name_expr }} || ')', ''))
{%- endmacro %}
