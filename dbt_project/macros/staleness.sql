{#
    When a KPI's value is due (status `silent`, models/intermediate/int_kpi_feeds.sql).

    A KPI of grain g is expected to have a value for each complete period by `grace` days after the period
    ends: grace = the KPI's expected_within_days, else var grace_days[g] (defaults below; the pipeline passes
    the project's settings). On evaluation date E the latest period that is due is the last one whose deadline
    has passed, period_end + grace < E:

        expected_period_start = period_start(g, period_start(g, E - grace) - 1 day)

    (E - grace is the first day the deadline of the period ending the day before has passed; the period before
    the one containing E - grace is therefore the latest complete one whose deadline is behind us.)
    A monthly KPI with grace 10 evaluated on 2024-05-11 is due for April (deadline 2024-05-10); on 2024-05-10
    it is still due only for March.
#}

{% macro default_grace_days() -%}
    {{ return({'day': 2, 'week': 3, 'month': 10, 'quarter': 20, 'year': 45}) }}
{%- endmacro %}

{# The validated grace days per grain: var grace_days over the defaults (a partial mapping keeps the rest). #}
{% macro grace_days_by_grain() -%}
    {%- set defaults = kpi_alignment.default_grace_days() -%}
    {%- set configured = var('grace_days', defaults) -%}
    {%- if configured is none -%}
        {%- set configured = {} -%}
    {%- endif -%}
    {%- if configured is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "var grace_days must be a mapping grain -> days, e.g. {month: 10}, got '" ~ configured ~ "'") }}
    {%- endif -%}
    {%- set result = {} -%}
    {%- for grain in configured -%}
        {%- if grain not in defaults -%}
            {{ exceptions.raise_compiler_error(
                "var grace_days: unknown grain '" ~ grain ~ "' (known: day, week, month, quarter, year)") }}
        {%- endif -%}
    {%- endfor -%}
    {%- for grain, default in defaults.items() -%}
        {%- set text = configured.get(grain, default) | string | trim -%}
        {%- if not modules.re.match('^\d+$', text) -%}
            {{ exceptions.raise_compiler_error(
                "var grace_days." ~ grain ~ " must be a whole number of days >= 0, got '" ~ text ~ "'") }}
        {%- endif -%}
        {%- do result.update({grain: text | int}) -%}
    {%- endfor -%}
    {{ return(result) }}
{%- endmacro %}

{# SQL: the default grace in days for the grain in `grain_expr` (null for an unknown grain). #}
{% macro grace_days_for(grain_expr) -%}
    case {{ grain_expr }}
    {%- for grain, days in kpi_alignment.grace_days_by_grain().items() %}
        when '{{ grain }}' then {{ days }}
    {%- endfor %}
    end
{%- endmacro %}

{# SQL: first day of the latest period of `grain_expr` that is due on `date_expr` given `grace_expr` days. #}
{% macro expected_period_start(grain_expr, date_expr, grace_expr) -%}
    {%- set deadline_base = kpi_alignment.add_days(date_expr, '-(' ~ grace_expr ~ ')') -%}
    {%- set current_start = kpi_alignment.period_start(grain_expr, deadline_base) -%}
    {{ kpi_alignment.period_start(grain_expr, kpi_alignment.add_days('(' ~ current_start ~ ')', -1)) }}
{%- endmacro %}
