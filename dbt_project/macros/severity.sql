{#
    Severity of an alignment check from var `severity` (a mapping finding -> error | warn | off, as in
    kpi_alignment.project.Severities), with `default` when the finding is not given. Returns the dbt test
    config: enabled (false for off) and severity (error | warn).

    Known findings: orphaned, disconnected, silent, unfed (KPIs), unmeasured, stale (objectives), id_cleanup
    (ids that matched only after clean-up, case B28) and unmapped (metrics no KPI claims; not in the project
    settings, so always its default unless passed explicitly).
#}
{% macro alignment_findings() -%}
    {{ return(['orphaned', 'disconnected', 'silent', 'unfed', 'unmeasured', 'stale', 'id_cleanup', 'unmapped']) }}
{%- endmacro %}

{% macro alignment_check_config(finding, default) -%}
    {%- if finding not in kpi_alignment.alignment_findings() -%}
        {{ exceptions.raise_compiler_error("unknown alignment finding '" ~ finding ~ "' (macros/severity.sql)") }}
    {%- endif -%}
    {%- set configured = var('severity', {}) or {} -%}
    {%- set level = (configured.get(finding, default) or default) | string | lower | trim -%}
    {%- if level not in ('error', 'warn', 'off') -%}
        {{ exceptions.raise_compiler_error(
            "var severity." ~ finding ~ " must be error, warn or off, got '" ~ level ~ "'") }}
    {%- endif -%}
    {{ return({'enabled': level != 'off', 'severity': 'error' if level == 'error' else 'warn'}) }}
{%- endmacro %}
