SELECT
    service_id,
    user_id,
    product_id::integer AS product_id,
    duration::integer AS duration,
    run_date::date AS run_date,
    to_char(run_date::date, 'YYYY-MM') AS month_year
FROM {{ source('shiny_rocks', 'services') }}
