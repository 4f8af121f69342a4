{#
    Severity of an alignment check from var `severity` (a mapping finding -> error | warn | off, as in
    kpi_alignment.project.Severities), with `default` when the finding is not given. Returns the dbt test
    config: enabled (false for off) and severity (error | warn).
#}
{% macro alignment_check_config(finding, default) -%}
    {%- set configured = var('severity', {}) or {} -%}
    {%- set level = (configured.get(finding, default) or default) | string | lower | trim -%}
    {%- if level not in ('error', 'warn', 'off') -%}
        {{ exceptions.raise_compiler_error(
            "var severity." ~ finding ~ " must be error, warn or off, got '" ~ level ~ "'") }}
    {%- endif -%}
    {{ return({'enabled': level != 'off', 'severity': 'error' if level == 'error' else 'warn'}) }}
{%- endmacro %}
