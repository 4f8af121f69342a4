{#
    Alignment check: active strategic objectives (time frame covering the evaluation date) measured by no
    connected KPI with data, directly or through child objectives. Severity: var severity.unmeasured (default
    error). Attached to objective_alignment (case B21).
#}
{%- set check = kpi_alignment.alignment_check_config('unmeasured', 'error') -%}
{{ config(
    enabled=check.enabled,
    severity=check.severity,
    meta={"dagster": {"ref": {"name": "objective_alignment"}}},
) }}

select objective_id, name, cause_code, cause_text
from {{ ref('objective_alignment') }}
where status = 'unmeasured'
    and level = 'strategic'
