-- Orders: the current state of each order.
with typed as (
    select distinct  -- exact duplicates
        id::uuid as id,
        customer_id::uuid as customer_id,
        session_id::uuid as session_id,
        {{ accepted_spelling('status', ['placed', 'paid', 'payment_failed', 'cancelled', 'shipped',
            'delivered', 'returned', 'refunded', 'partially_refunded']) }} as status,
        upper(trim(currency)) as currency,
        subtotal::numeric as subtotal,
        discount::numeric as discount,
        shipping::numeric as shipping,
        tax::numeric as tax,
        total::numeric as total,
        lower(trim(utm_source)) as utm_source,
        created_at::timestamptz as created_at,
        updated_at::timestamptz as updated_at
    from {{ source('raw_shop', 'orders') }}
),
latest as (
    select distinct on (id) * from typed order by id, updated_at desc
),
lines as (
    select order_id, sum(quantity * unit_price) as subtotal
    from {{ ref('order_items') }}
    group by order_id
),
-- amounts in cents: the whole row's money is a hundred times its lines' subtotal
scaled as (
    select o.*, (l.subtotal > 0 and o.subtotal = 100 * l.subtotal) as in_cents
    from latest o
    left join lines l on l.order_id = o.id
)
select
    id, customer_id, session_id, status, currency,
    case when in_cents then round(subtotal / 100, 2) else subtotal end as subtotal,
    case when in_cents then round(discount / 100, 2) else discount end as discount,
    case when in_cents then round(shipping / 100, 2) else shipping end as shipping,
    case when in_cents then round(tax / 100, 2) else tax end as tax,
    case when in_cents then round(total / 100, 2) else total end as total,
    utm_source, created_at, updated_at
from scaled
