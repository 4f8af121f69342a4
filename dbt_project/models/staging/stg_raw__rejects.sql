with

rejects as (

    select * from {{ source('raw', 'rejects') }}

),

renamed as (

    select
        source_name,
        source_file,
        file_hash,
        line_number,
        field,
        reason,
        raw_line,
        load_id,
        rejected_at
    from rejects

)

select * from renamed
