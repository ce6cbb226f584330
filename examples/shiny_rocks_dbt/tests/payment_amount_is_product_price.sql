-- Every payment is the price of its order's phone: product_id × 99, as in the blog's
-- generator. Returns the payments that break the rule (none, for the test to pass).
SELECT payments.payment_id, payments.amount, orders.product_id
FROM {{ ref('staging_payments') }} AS payments
INNER JOIN {{ ref('staging_orders') }} AS orders
    ON orders.order_id = payments.order_id
WHERE payments.amount <> orders.product_id * 99
