{{ config(materialized='table') }}
{#
    Daily flight metrics per carrier in the metric shape (docs/architecture.md): metric_name, period_date,
    dimension (= carrier), value, target_value, source_name. Every metric is a count or a sum, so any ratio
    KPI over them is a ratio of sums at the KPI's grain. Definitions (US DOT on-time performance):
      flights_scheduled         all rows
      flights_departed_on_time  departed (dep_time not null) with departure delay < 15 minutes
      flights_arrived_on_time   arrival delay < 15 minutes; cancelled and diverted flights have no arrival
                                delay and count as not on time
      flights_cancelled         no departure time
      flights_diverted          departed but no arrival delay
      flights_arrived           arrival delay known
      arrival_delay_minutes     Σ arrival delay of arrived flights (early = negative)
      distance_miles            Σ distance of flights that arrived (the stage-length KPI divides by those)
      air_time_minutes          Σ air time where known
      flights_with_air_time     flights with a known air time
#}
{%- set metrics = [
    'flights_scheduled', 'flights_departed_on_time', 'flights_arrived_on_time', 'flights_cancelled',
    'flights_diverted', 'flights_arrived', 'arrival_delay_minutes', 'distance_miles', 'air_time_minutes',
    'flights_with_air_time',
] -%}

with

flights as (

    select * from {{ ref('stg_flights__flights') }}

),

daily as (

    select
        flight_date,
        carrier,
        min(source_name) as source_name,
        count(*) as flights_scheduled,
        sum(case when departure_hhmm is not null and departure_delay_minutes < 15 then 1 else 0 end)
            as flights_departed_on_time,
        sum(case when arrival_delay_minutes < 15 then 1 else 0 end) as flights_arrived_on_time,
        sum(case when departure_hhmm is null then 1 else 0 end) as flights_cancelled,
        sum(case when departure_hhmm is not null and arrival_delay_minutes is null then 1 else 0 end)
            as flights_diverted,
        count(arrival_delay_minutes) as flights_arrived,
        coalesce(sum(arrival_delay_minutes), 0) as arrival_delay_minutes,
        coalesce(sum(case when arrival_delay_minutes is not null then distance_miles end), 0) as distance_miles,
        coalesce(sum(air_time_minutes), 0) as air_time_minutes,
        count(air_time_minutes) as flights_with_air_time
    from flights
    group by flight_date, carrier

),

unpivoted as (
    {% for metric in metrics %}
    select
        '{{ metric }}' as metric_name,
        flight_date as period_date,
        carrier as dimension,
        cast({{ metric }} as {{ kpi_alignment.type_double() }}) as value,
        cast(null as {{ kpi_alignment.type_double() }}) as target_value,
        source_name
    from daily
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from unpivoted
