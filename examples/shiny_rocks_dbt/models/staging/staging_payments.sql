SELECT
    payment_id,
    order_id,
    order_date::date AS order_date,
    payment_method,
    amount::numeric(12, 2) AS amount,
    to_char(order_date::date, 'YYYY-MM') AS month_year
FROM {{ source('shiny_rocks', 'payments') }}
