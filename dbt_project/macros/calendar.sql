{#
    Explicit calendar for KPI periods (vars week_start, fiscal_year_start_month). Nothing depends on the
    warehouse's session settings (e.g. which weekday date_trunc('week') starts on).

    period_start(grain, date): the first day of the period of `grain` ('day'|'week'|'month'|'quarter'|'year',
        a SQL expression, usually the KPI's grain column) containing `date`.
        week:    the latest week_start day on or before the date;
        month:   the 1st of the month;
        quarter: fiscal quarters: the date is shifted back (fiscal_year_start_month - 1) months, truncated to
                 its calendar quarter, and shifted forward again; year likewise. With the default 1 these are
                 calendar quarters and years; with 7 (NYC fiscal year) FY2024 = 2023-07-01 .. 2024-06-30.
    period_end(grain, period_start): the last day (inclusive) of that period.
#}

{% macro fiscal_month_shift() -%}
    {%- set month = var('fiscal_year_start_month', 1) | int -%}
    {%- if month < 1 or month > 12 -%}
        {{ exceptions.raise_compiler_error(
            "var fiscal_year_start_month must be 1..12, got '" ~ var('fiscal_year_start_month') ~ "'") }}
    {%- endif -%}
    {{ return(month - 1) }}
{%- endmacro %}

{# Days from the period's first weekday back to 0 (monday start: Mon=0 .. Sun=6; sunday start: Sun=0 .. Sat=6). #}
{% macro days_since_week_start(date_expr) -%}
    {%- set week_start = var('week_start', 'monday') | lower -%}
    {%- if week_start == 'monday' -%}
        ({{ kpi_alignment.iso_day_of_week(date_expr) }} - 1)
    {%- elif week_start == 'sunday' -%}
        (case when {{ kpi_alignment.iso_day_of_week(date_expr) }} = 7 then 0
              else {{ kpi_alignment.iso_day_of_week(date_expr) }} end)
    {%- else -%}
        {{ exceptions.raise_compiler_error("var week_start must be 'monday' or 'sunday', got '" ~ week_start ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{# ISO weekday 1 = Monday .. 7 = Sunday. #}
{% macro iso_day_of_week(date_expr) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'kpi_alignment')(date_expr)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_expr) -%}
    cast(extract(isodow from {{ date_expr }}) as integer)
{%- endmacro %}

{% macro add_days(date_expr, n) -%}
    cast({{ dbt.dateadd('day', n, date_expr) }} as date)
{%- endmacro %}

{% macro add_months(date_expr, n) -%}
    cast({{ dbt.dateadd('month', n, date_expr) }} as date)
{%- endmacro %}

{% macro fiscal_truncate(datepart, date_expr) -%}
    {%- set shift = kpi_alignment.fiscal_month_shift() -%}
    {%- if shift == 0 -%}
        cast({{ dbt.date_trunc(datepart, date_expr) }} as date)
    {%- else -%}
        {{ kpi_alignment.add_months(
            'cast(' ~ dbt.date_trunc(datepart, kpi_alignment.add_months(date_expr, -shift)) ~ ' as date)', shift) }}
    {%- endif -%}
{%- endmacro %}

{% macro period_start(grain, date_expr) -%}
    case {{ grain }}
        when 'day' then cast({{ date_expr }} as date)
        when 'week' then {{ kpi_alignment.add_days(date_expr, '-' ~ kpi_alignment.days_since_week_start(date_expr)) }}
        when 'month' then cast({{ dbt.date_trunc('month', date_expr) }} as date)
        when 'quarter' then {{ kpi_alignment.fiscal_truncate('quarter', date_expr) }}
        when 'year' then {{ kpi_alignment.fiscal_truncate('year', date_expr) }}
    end
{%- endmacro %}

{% macro period_end(grain, period_start_expr) -%}
    case {{ grain }}
        when 'day' then cast({{ period_start_expr }} as date)
        when 'week' then {{ kpi_alignment.add_days(period_start_expr, 6) }}
        when 'month' then {{ kpi_alignment.add_days(kpi_alignment.add_months(period_start_expr, 1), -1) }}
        when 'quarter' then {{ kpi_alignment.add_days(kpi_alignment.add_months(period_start_expr, 3), -1) }}
        when 'year' then {{ kpi_alignment.add_days(kpi_alignment.add_months(period_start_expr, 12), -1) }}
    end
{%- endmacro %}

{# A date from integer year, month and day columns (dbt.date() takes literals only). #}
{% macro date_from_parts(year_expr, month_expr, day_expr) -%}
    {{ return(adapter.dispatch('date_from_parts', 'kpi_alignment')(year_expr, month_expr, day_expr)) }}
{%- endmacro %}

{% macro default__date_from_parts(year_expr, month_expr, day_expr) -%}
    make_date(cast({{ year_expr }} as integer), cast({{ month_expr }} as integer), cast({{ day_expr }} as integer))
{%- endmacro %}
