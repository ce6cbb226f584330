-- Payments: the current state of each payment.
with typed as (
    select distinct  -- exact duplicates
        id::uuid as id,
        order_id::uuid as order_id,
        {{ accepted_spelling('method', ['card', 'paypal', 'apple_pay', 'bank_transfer']) }} as method,
        {{ accepted_spelling('status', ['authorized', 'captured', 'failed', 'voided', 'refunded',
            'partially_refunded']) }} as status,
        amount::numeric as amount,
        created_at::timestamptz as created_at,
        updated_at::timestamptz as updated_at
    from {{ source('raw_shop', 'payments') }}
),
latest as (
    select distinct on (id) * from typed order by id, updated_at desc
)
select
    p.id, p.order_id, p.method, p.status,
    -- amounts in cents: a payment is its order's total, so a hundred times it is in cents
    case when o.total > 0 and p.amount = 100 * o.total then round(p.amount / 100, 2)
         else p.amount end as amount,
    p.created_at, p.updated_at
from latest p
left join {{ ref('orders') }} o on o.id = p.order_id
