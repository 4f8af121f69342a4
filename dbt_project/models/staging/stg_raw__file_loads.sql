with

file_loads as (

    select * from {{ source('raw', 'file_loads') }}

),

renamed as (

    select
        source_name,
        source_file,
        file_hash,
        lower(status) as load_status,
        source_records,
        rows_loaded,
        rows_rejected,
        load_id,
        loaded_at,
        message
    from file_loads

)

select * from renamed
