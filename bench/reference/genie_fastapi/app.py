"""The straightforward FastAPI + SQLAlchemy app a learner would write instead of genie.

Serves GET /v1/orders?limit=&updated_at_min=&cursor= from genie's own SQLite file, read-only:
Bearer key checked against genie's `api_keys` table (SHA-256 of the key), rows read through an
ORM model of the `orders` table, validated and serialised by a Pydantic response model, and
the same envelope as genie (`data`, `has_more`, `next_cursor`). Filtering and ordering use the
columns genie indexes, `_sort` (epoch seconds of `updated_at`) and `id` (index `orders_sort`),
so both servers walk the same index and the comparison is about the serving stack, not the
query plan. Orders are never deleted, so there is no deleted filter.

Run (the bench script does this):
    GENIE_DB=/path/to/genie.sqlite uvicorn app:app --workers 2 --no-access-log
"""

import base64
import hashlib
import json
import os
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Integer, String, create_engine, select, tuple_
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

DB = os.environ.get("GENIE_DB", "genie-data/genie.sqlite")
# read-only: genie owns the file and keeps writing to it (WAL lets both work at once)
engine = create_engine(
    f"sqlite:///file:{DB}?mode=ro&uri=true",
    connect_args={"check_same_thread": False},
)
SessionLocal = sessionmaker(bind=engine)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[str] = mapped_column(String)
    scopes: Mapped[str] = mapped_column(String)
    revoked_at: Mapped[str | None] = mapped_column(String)


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    # epoch seconds of updated_at, indexed with id: genie's keyset
    sort: Mapped[int] = mapped_column("_sort", Integer)
    customer_id: Mapped[str] = mapped_column(String)
    session_id: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    currency: Mapped[str] = mapped_column(String)
    # money is stored as exact decimal text
    subtotal: Mapped[str] = mapped_column(String)
    discount: Mapped[str] = mapped_column(String)
    shipping: Mapped[str] = mapped_column(String)
    tax: Mapped[str] = mapped_column(String)
    total: Mapped[str] = mapped_column(String)
    utm_source: Mapped[str] = mapped_column(String)
    created_at: Mapped[str] = mapped_column(String)
    updated_at: Mapped[str] = mapped_column(String)


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    customer_id: str
    session_id: str
    status: str
    currency: str
    subtotal: float
    discount: float
    shipping: float
    tax: float
    total: float
    utm_source: str | None
    created_at: datetime
    updated_at: datetime


class OrderList(BaseModel):
    object: str = "list"
    data: list[OrderOut]
    has_more: bool
    next_cursor: str | None


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


def current_key(
    authorization: Annotated[str | None, Header()] = None,
    db: Session = Depends(get_db),
) -> ApiKey:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HTTPException(401, "missing API key", headers={"WWW-Authenticate": "Bearer"})
    digest = hashlib.sha256(authorization[7:].strip().encode()).hexdigest()
    key = db.scalar(select(ApiKey).where(ApiKey.hash == digest))
    if key is None or key.revoked_at is not None:
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
    if not {"read:all", "read:orders"} & set(key.scopes.split()):
        raise HTTPException(403, "missing scope read:orders")
    return key


app = FastAPI(title="genie reference (FastAPI + SQLAlchemy)")


@app.get("/v1/orders", response_model=OrderList)
def list_orders(
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    updated_at_min: datetime | None = None,
    cursor: str | None = None,
    key: ApiKey = Depends(current_key),
    db: Session = Depends(get_db),
):
    q = select(Order)
    if cursor:
        try:
            c = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            updated_at_min = datetime.fromtimestamp(c["u0"], timezone.utc) if c["u0"] is not None else None
            q = q.where(tuple_(Order.sort, Order.id) > (c["s"], c["k"]))
        except (ValueError, KeyError, TypeError):
            raise HTTPException(400, "invalid cursor")
    if updated_at_min is not None:
        if updated_at_min.tzinfo is None:
            updated_at_min = updated_at_min.replace(tzinfo=timezone.utc)
        q = q.where(Order.sort >= int(updated_at_min.timestamp()))
    rows = db.scalars(q.order_by(Order.sort, Order.id).limit(limit + 1)).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more:
        last = rows[-1]
        u0 = int(updated_at_min.timestamp()) if updated_at_min is not None else None
        raw = json.dumps({"s": last.sort, "k": last.id, "u0": u0}).encode()
        next_cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"data": rows, "has_more": has_more, "next_cursor": next_cursor}
