-- month_year is zero-padded (2024-07) where the blog's BigQuery CONCAT gave 2024-7, so that
-- months sort in order.
SELECT
    user_id,
    order_id,
    order_date::date AS order_date,
    product_id::integer AS product_id,
    utm_source,
    to_char(order_date::date, 'YYYY-MM') AS month_year
FROM {{ source('shiny_rocks', 'orders') }}
