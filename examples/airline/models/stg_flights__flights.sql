-- Flights with their local scheduled date. year/month/day are the scheduled departure date in New York;
-- time_hour is UTC and would move late-evening flights to the next day, so it is not used for the date.

with

source as (

    select * from {{ source('project_raw', 'flights') }}

),

renamed as (

    select
        {{ kpi_alignment.date_from_parts('year', 'month', 'day') }} as flight_date,
        carrier,
        flight as flight_number,
        tailnum as tail_number,
        origin,
        dest as destination,
        sched_dep_time as scheduled_departure_hhmm,
        dep_time as departure_hhmm,
        dep_delay as departure_delay_minutes,
        sched_arr_time as scheduled_arrival_hhmm,
        arr_time as arrival_hhmm,
        arr_delay as arrival_delay_minutes,
        air_time as air_time_minutes,
        distance as distance_miles,
        time_hour as scheduled_hour_utc,
        source_name,
        source_file,
        source_row
    from source

)

select * from renamed
