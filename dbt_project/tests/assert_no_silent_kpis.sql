{#
    Alignment check: linked KPIs whose source stopped delivering - no value for the latest period that is due
    (period end + expected_within_days or var grace_days; kpi_alignment.status = 'silent').
    Severity: var severity.silent (default warn). Attached to kpi_alignment (case B21).
#}
{%- set check = kpi_alignment.alignment_check_config('silent', 'warn') -%}
{{ config(
    enabled=check.enabled,
    severity=check.severity,
    meta={"dagster": {"ref": {"name": "kpi_alignment"}}},
) }}

select kpi_id, kpi_name, owner, cause_code, cause_text, last_value_date, expected_by, since
from {{ ref('kpi_alignment') }}
where status = 'silent'
