{#
    Alignment check: linked KPIs that no source metric feeds - no metric mapped, no data row for the mapped
    names, or the metric was renamed upstream (case B18; kpi_alignment.status = 'unfed').
    Severity: var severity.unfed (default error). Attached to kpi_alignment (case B21).
#}
{%- set check = kpi_alignment.alignment_check_config('unfed', 'error') -%}
{{ config(
    enabled=check.enabled,
    severity=check.severity,
    meta={"dagster": {"ref": {"name": "kpi_alignment"}}},
) }}

select kpi_id, kpi_name, owner, cause_code, cause_text, metric_names, rename_candidates, since
from {{ ref('kpi_alignment') }}
where status = 'unfed'
