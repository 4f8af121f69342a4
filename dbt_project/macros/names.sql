{#
    names_look_alike(a, b): two metric names that may be one metric renamed ("revenue" -> "net_revenue",
    case B18): after lower-casing, one contains the other and both have at least 4 characters. It is a hint for
    people ("renamed?"), so it stays simple and predictable; numeric codes (MTA indicator ids) of equal length
    never match each other.
#}
{% macro names_look_alike(a, b) -%}
    {{ return(adapter.dispatch('names_look_alike', 'kpi_alignment')(a, b)) }}
{%- endmacro %}

{% macro default__names_look_alike(a, b) -%}
    (
        {{ a }} <> {{ b }}
        and {{ dbt.length(a) }} >= 4
        and {{ dbt.length(b) }} >= 4
        and (
            {{ dbt.position('lower(' ~ a ~ ')', 'lower(' ~ b ~ ')') }} > 0
            or {{ dbt.position('lower(' ~ b ~ ')', 'lower(' ~ a ~ ')') }} > 0
        )
    )
{%- endmacro %}
