-- The blog's daily marketing report: each platform's spend against the sales of the orders
-- that came from it (orders joined to their payments, by day and utm_source), one row per
-- day and platform. NULLIF keeps a day without spend from dividing by zero (its ROI is NULL).
WITH orders_utm_values AS (
    SELECT
        orders.order_date,
        orders.utm_source,
        SUM(payments.amount) AS sum_payments_amount
    FROM {{ ref('staging_orders') }} AS orders
    INNER JOIN {{ ref('staging_payments') }} AS payments
        ON orders.order_id = payments.order_id
    GROUP BY orders.order_date, orders.utm_source
),

marketing_sales_agg AS (
    SELECT
        marketing.date,
        marketing.platform,
        marketing.amount AS marketing_cost,
        orders_utm_values.sum_payments_amount AS sales_amount
    FROM {{ ref('staging_marketing_investments') }} AS marketing
    LEFT JOIN orders_utm_values
        ON marketing.date = orders_utm_values.order_date
        AND marketing.platform = orders_utm_values.utm_source
)

SELECT
    date,
    platform,
    marketing_cost,
    sales_amount,
    (sales_amount - marketing_cost) / NULLIF(marketing_cost, 0) AS marketing_roi
FROM marketing_sales_agg
