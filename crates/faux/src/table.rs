//! Table definitions: each table is a row struct plus one static [`TableDef`].
//!
//! Everything a sink needs — CSV headers, Arrow schemas, JSON field names, SQL DDL, docs — is
//! derived from the [`TableDef`]; a row hands its values to a sink through [`Row::visit`], one
//! typed call per column in column order. Sinks are generic over [`FieldVisitor`], so adding a
//! table touches the engine only and adding a sink touches the sinks only.

use crate::rng::Uuid;
use crate::time::{Date, Timestamp};

/// The logical type of a column; sinks map it to their physical types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalType {
    /// UTF-8 text.
    Text,
    /// A UUID written as 32 lowercase hex digits (Python's `uuid4().hex`), stored as text.
    HexUuid,
    /// A UUID written in its canonical hyphenated form.
    Uuid,
    /// A 64-bit signed integer.
    Int,
    /// A fixed-point decimal: values are integers in units of 10^-scale.
    Decimal {
        precision: u8,
        scale: u8,
    },
    Bool,
    /// A calendar day, `YYYY-MM-DD`.
    Date,
    /// A UTC instant in whole seconds, RFC 3339 `YYYY-MM-DDTHH:MM:SSZ`.
    Timestamp,
    /// A JSON document, passed through as its serialised text.
    Json,
}

impl LogicalType {
    /// A short, human name used in docs and `aladdin scenario show`.
    pub fn describe(&self) -> String {
        match self {
            LogicalType::Text => "text".into(),
            LogicalType::HexUuid => "uuid (32 hex)".into(),
            LogicalType::Uuid => "uuid".into(),
            LogicalType::Int => "int".into(),
            LogicalType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            LogicalType::Bool => "bool".into(),
            LogicalType::Date => "date".into(),
            LogicalType::Timestamp => "timestamp (UTC)".into(),
            LogicalType::Json => "json".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: LogicalType,
    pub nullable: bool,
    pub description: &'static str,
}

impl Column {
    pub const fn new(name: &'static str, ty: LogicalType, description: &'static str) -> Column {
        Column {
            name,
            ty,
            nullable: false,
            description,
        }
    }

    pub const fn nullable(self) -> Column {
        Column {
            nullable: true,
            ..self
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct TableDef {
    pub name: &'static str,
    pub description: &'static str,
    pub columns: &'static [Column],
    /// Column names forming the primary key.
    pub primary_key: &'static [&'static str],
    /// The incremental cursor column (`updated_at`), for mutable tables.
    pub cursor: Option<&'static str>,
    /// The column whose day a row is partitioned by.
    pub partition: &'static str,
    /// The table whose rows own this table's rows (an order owns its lines), if any.
    pub parent: Option<Parent>,
}

/// A table's owning table: each row belongs to the `table` row whose primary key equals its
/// `column`. An API lists a parent's rows at `/<table>/{id}/<path>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    pub table: &'static str,
    pub column: &'static str,
    /// The path segment of the nested listing (`items` for an order's lines).
    pub path: &'static str,
}

impl TableDef {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Receives a row's values, one call per column, in column order.
pub trait FieldVisitor {
    fn text(&mut self, v: &str);
    /// Text from the program's own constants (a category, a status): encoders may remember
    /// what they worked out about each one, since its bytes never change.
    #[inline(always)]
    fn label(&mut self, v: &'static str) {
        self.text(v);
    }
    fn hex_uuid(&mut self, v: &Uuid);
    fn uuid(&mut self, v: &Uuid);
    fn int(&mut self, v: i64);
    /// A decimal in units of 10^-scale of its column.
    fn decimal(&mut self, units: i64);
    fn bool(&mut self, v: bool);
    fn date(&mut self, v: Date);
    fn timestamp(&mut self, v: Timestamp);
    fn json(&mut self, v: &str);
    fn null(&mut self);
}

/// A visitor behind a reference visits as the visitor itself (rows of scenarios defined
/// outside faux are visited through `&mut dyn FieldVisitor`).
impl<T: FieldVisitor + ?Sized> FieldVisitor for &mut T {
    fn text(&mut self, v: &str) {
        (**self).text(v)
    }
    fn label(&mut self, v: &'static str) {
        (**self).label(v)
    }
    fn hex_uuid(&mut self, v: &Uuid) {
        (**self).hex_uuid(v)
    }
    fn uuid(&mut self, v: &Uuid) {
        (**self).uuid(v)
    }
    fn int(&mut self, v: i64) {
        (**self).int(v)
    }
    fn decimal(&mut self, units: i64) {
        (**self).decimal(units)
    }
    fn bool(&mut self, v: bool) {
        (**self).bool(v)
    }
    fn date(&mut self, v: Date) {
        (**self).date(v)
    }
    fn timestamp(&mut self, v: Timestamp) {
        (**self).timestamp(v)
    }
    fn json(&mut self, v: &str) {
        (**self).json(v)
    }
    fn null(&mut self) {
        (**self).null()
    }
}

/// A typed row of a table.
pub trait Row {
    /// Hands every column's value to the visitor, in [`TableDef::columns`] order, with the
    /// method matching the column's [`LogicalType`] (or `null` for a nullable column).
    fn visit<V: FieldVisitor>(&self, v: &mut V);
}

/// Somewhere rows of one table go (a file encoder, a test collector, …).
pub trait RowSink {
    type Error;
    fn row<R: Row>(&mut self, row: &R) -> Result<(), Self::Error>;
}

/// Declares a table once: its row struct, its [`TableDef`] static and its [`Row`] impl, from
/// one list of fields. Column `i` is field `i`, named after it, documented by the same text,
/// and visited with the method the field names, so a row cannot drift from its definition:
/// - a method that cannot write the column's logical type (`uuid` for a `Text` column) fails
///   the build;
/// - `.nullable()` makes the column nullable and visits `None` as `null`; the field must then
///   be an `Option`, and an `Option` field without it does not compile.
///
/// Each field reads `name: RustType = method(LogicalType, "description")`, where `method` is
/// the [`FieldVisitor`] method that writes it: `text` and `json` take anything that is
/// `AsRef<str>`, `label` a `&'static str`, `uuid` and `hex_uuid` a [`Uuid`], `int` and
/// `decimal` an `i64`, `bool`, `date` and `timestamp` their types. The static lists every
/// [`TableDef`] field but `columns`.
///
/// ```
/// use faux::{LogicalType as T, Row, TableDef, Timestamp, Uuid};
///
/// faux::table! {
///     /// A book of the catalogue.
///     #[derive(Debug, Clone, PartialEq)]
///     pub struct Book {
///         pub id: Uuid = uuid(T::Uuid, "Book id."),
///         pub title: String = text(T::Text, "Title."),
///         pub price: i64 = decimal(T::Decimal { precision: 8, scale: 2 }, "Price."),
///         pub added_at: Timestamp = timestamp(T::Timestamp, "When catalogued."),
///         pub withdrawn_at: Option<Timestamp> =
///             timestamp(T::Timestamp, "Withdrawn from loan.").nullable(),
///     }
///     pub static BOOKS = TableDef {
///         name: "books",
///         description: "The catalogue.",
///         primary_key: &["id"],
///         cursor: None,
///         partition: "added_at",
///         parent: None,
///     };
/// }
///
/// let columns: Vec<_> = BOOKS.columns.iter().map(|c| (c.name, c.nullable)).collect();
/// assert_eq!(
///     columns,
///     [
///         ("id", false),
///         ("title", false),
///         ("price", false),
///         ("added_at", false),
///         ("withdrawn_at", true),
///     ]
/// );
/// assert_eq!(BOOKS.columns[2].description, "Price.");
/// # #[derive(Default)]
/// # struct Calls(Vec<String>);
/// # impl faux::FieldVisitor for Calls {
/// #     fn text(&mut self, v: &str) { self.0.push(format!("text {v}")) }
/// #     fn hex_uuid(&mut self, _: &Uuid) { self.0.push("hex_uuid".into()) }
/// #     fn uuid(&mut self, _: &Uuid) { self.0.push("uuid".into()) }
/// #     fn int(&mut self, v: i64) { self.0.push(format!("int {v}")) }
/// #     fn decimal(&mut self, v: i64) { self.0.push(format!("decimal {v}")) }
/// #     fn bool(&mut self, v: bool) { self.0.push(format!("bool {v}")) }
/// #     fn date(&mut self, v: faux::Date) { self.0.push(format!("date {v}")) }
/// #     fn timestamp(&mut self, _: Timestamp) { self.0.push("timestamp".into()) }
/// #     fn json(&mut self, v: &str) { self.0.push(format!("json {v}")) }
/// #     fn null(&mut self) { self.0.push("null".into()) }
/// # }
/// # let book = Book {
/// #     id: faux::Key::root(1).stream().uuid_v4(),
/// #     title: "Dune".into(),
/// #     price: 1250,
/// #     added_at: Timestamp(0),
/// #     withdrawn_at: None,
/// # };
/// # let mut calls = Calls::default();
/// # book.visit(&mut calls);
/// # assert_eq!(calls.0, ["uuid", "text Dune", "decimal 1250", "timestamp", "null"]);
/// ```
///
/// A method that does not write the column's type is a build error:
///
/// ```compile_fail
/// use faux::{LogicalType as T, TableDef};
/// faux::table! {
///     pub struct Tag {
///         pub name: String = text(T::Int, "Name."),
///     }
///     pub static TAGS = TableDef {
///         name: "tags", description: "Tags.", primary_key: &[], cursor: None,
///         partition: "name", parent: None,
///     };
/// }
/// ```
///
/// So is an `Option` field whose column is not `.nullable()`:
///
/// ```compile_fail
/// use faux::{LogicalType as T, TableDef};
/// faux::table! {
///     pub struct Tag {
///         pub name: Option<String> = text(T::Text, "Name."),
///     }
///     pub static TAGS = TableDef {
///         name: "tags", description: "Tags.", primary_key: &[], cursor: None,
///         partition: "name", parent: None,
///     };
/// }
/// ```
///
/// And a `.nullable()` column whose field is not an `Option`:
///
/// ```compile_fail
/// use faux::{LogicalType as T, TableDef};
/// faux::table! {
///     pub struct Tag {
///         pub name: String = text(T::Text, "Name.").nullable(),
///     }
///     pub static TAGS = TableDef {
///         name: "tags", description: "Tags.", primary_key: &[], cursor: None,
///         partition: "name", parent: None,
///     };
/// }
/// ```
#[macro_export]
macro_rules! table {
    (
        $(#[$attr:meta])*
        $vis:vis struct $row:ident {
            $(
                $(#[$field_attr:meta])*
                $field_vis:vis $field:ident : $field_ty:ty =
                    $method:ident($ty:expr, $doc:literal) $(.$nullable:ident())?
            ),+ $(,)?
        }
        $def_vis:vis static $def:ident = TableDef { $($key:ident : $value:expr),+ $(,)? };
    ) => {
        $(#[$attr])*
        $vis struct $row {
            $(
                #[doc = $doc]
                $(#[$field_attr])*
                $field_vis $field: $field_ty,
            )+
        }

        $def_vis static $def: $crate::table::TableDef = $crate::table::TableDef {
            columns: &[$(
                $crate::table::Column::new(stringify!($field), $ty, $doc) $(.$nullable())?
            ),+],
            $($key: $value),+
        };

        // evaluated at build time: a field's method must write its column's type
        const _: () = {$(
            assert!(
                $crate::table::by_method::writes::$method(&$ty),
                concat!(
                    stringify!($row), ".", stringify!($field), ": `", stringify!($method),
                    "` does not write the column's logical type"
                ),
            );
        )+};

        impl $crate::table::Row for $row {
            #[inline]
            fn visit<V: $crate::table::FieldVisitor>(&self, v: &mut V) {
                $($crate::table!(@visit v, self.$field, $method $(, $nullable)?);)+
            }
        }
    };
    (@visit $v:ident, $value:expr, $method:ident) => {
        $crate::table::by_method::put::$method($v, &$value)
    };
    (@visit $v:ident, $value:expr, $method:ident, nullable) => {
        match &$value {
            Some(x) => $crate::table::by_method::put::$method($v, x),
            None => $v.null(),
        }
    };
}

/// Support for [`table!`], per [`FieldVisitor`] method: which logical types it writes, and
/// how a field is handed to it. Not an API of its own.
#[doc(hidden)]
pub mod by_method {
    /// Whether the method of the same name writes a column of the given type.
    pub mod writes {
        use crate::table::LogicalType;

        pub const fn text(t: &LogicalType) -> bool {
            matches!(t, LogicalType::Text)
        }
        pub const fn label(t: &LogicalType) -> bool {
            matches!(t, LogicalType::Text)
        }
        pub const fn hex_uuid(t: &LogicalType) -> bool {
            matches!(t, LogicalType::HexUuid)
        }
        pub const fn uuid(t: &LogicalType) -> bool {
            matches!(t, LogicalType::Uuid)
        }
        pub const fn int(t: &LogicalType) -> bool {
            matches!(t, LogicalType::Int)
        }
        pub const fn decimal(t: &LogicalType) -> bool {
            matches!(t, LogicalType::Decimal { .. })
        }
        pub const fn bool(t: &LogicalType) -> bool {
            matches!(t, LogicalType::Bool)
        }
        pub const fn date(t: &LogicalType) -> bool {
            matches!(t, LogicalType::Date)
        }
        pub const fn timestamp(t: &LogicalType) -> bool {
            matches!(t, LogicalType::Timestamp)
        }
        pub const fn json(t: &LogicalType) -> bool {
            matches!(t, LogicalType::Json)
        }
    }

    /// Hands a field to the method of the same name; each signature is the field type the
    /// method accepts.
    pub mod put {
        use crate::rng::Uuid;
        use crate::table::FieldVisitor;
        use crate::time::{Date, Timestamp};

        #[inline(always)]
        pub fn text<V: FieldVisitor + ?Sized, S: AsRef<str> + ?Sized>(v: &mut V, s: &S) {
            v.text(s.as_ref())
        }
        #[inline(always)]
        pub fn label<V: FieldVisitor + ?Sized>(v: &mut V, s: &&'static str) {
            v.label(s)
        }
        #[inline(always)]
        pub fn hex_uuid<V: FieldVisitor + ?Sized>(v: &mut V, u: &Uuid) {
            v.hex_uuid(u)
        }
        #[inline(always)]
        pub fn uuid<V: FieldVisitor + ?Sized>(v: &mut V, u: &Uuid) {
            v.uuid(u)
        }
        #[inline(always)]
        pub fn int<V: FieldVisitor + ?Sized>(v: &mut V, i: &i64) {
            v.int(*i)
        }
        #[inline(always)]
        pub fn decimal<V: FieldVisitor + ?Sized>(v: &mut V, units: &i64) {
            v.decimal(*units)
        }
        #[inline(always)]
        pub fn bool<V: FieldVisitor + ?Sized>(v: &mut V, b: &bool) {
            v.bool(*b)
        }
        #[inline(always)]
        pub fn date<V: FieldVisitor + ?Sized>(v: &mut V, d: &Date) {
            v.date(*d)
        }
        #[inline(always)]
        pub fn timestamp<V: FieldVisitor + ?Sized>(v: &mut V, t: &Timestamp) {
            v.timestamp(*t)
        }
        #[inline(always)]
        pub fn json<V: FieldVisitor + ?Sized, S: AsRef<str> + ?Sized>(v: &mut V, s: &S) {
            v.json(s.as_ref())
        }
    }
}

/// Declares a scenario's tables once: an exhaustive `Table` enum (a forgotten table in a
/// `match` is a compile error), a `Rec` enum holding a row of any of them, and `TABLES`, the
/// definitions in table order (the order of [`crate::Scenario::tables`]).
///
/// ```text
/// scenario_tables! {
///     Customers(Customer) = CUSTOMERS,
///     Orders(Order) = ORDERS,
/// }
/// ```
#[macro_export]
macro_rules! scenario_tables {
    ($($variant:ident($row:ty) = $def:ident),+ $(,)?) => {
        /// A table of this scenario; its position is its index in `TABLES`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Table {
            $($variant),+
        }

        impl Table {
            /// Every table, in table order.
            pub const ALL: &'static [Table] = &[$(Table::$variant),+];

            /// The table's definition.
            pub fn def(self) -> &'static $crate::table::TableDef {
                match self {
                    $(Table::$variant => &$def),+
                }
            }

            /// The table's position in `TABLES` (and in the scenario's tables).
            pub fn index(self) -> usize {
                self as usize
            }

            /// The table at position `i` of `TABLES`.
            pub fn from_index(i: usize) -> Option<Table> {
                Table::ALL.get(i).copied()
            }

            /// The table whose definition is `def` (by identity).
            pub fn of(def: &$crate::table::TableDef) -> Option<Table> {
                Table::ALL.iter().copied().find(|t| std::ptr::eq(t.def(), def))
            }
        }

        /// A row of any table of this scenario.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Rec {
            $($variant($row)),+
        }

        impl Rec {
            /// The table the row belongs to.
            pub fn table(&self) -> Table {
                match self {
                    $(Rec::$variant(_) => Table::$variant),+
                }
            }
        }

        impl $crate::table::Row for Rec {
            #[inline]
            fn visit<V: $crate::table::FieldVisitor>(&self, v: &mut V) {
                match self {
                    $(Rec::$variant(r) => r.visit(v)),+
                }
            }
        }

        $(impl From<$row> for Rec {
            fn from(r: $row) -> Rec {
                Rec::$variant(r)
            }
        })+

        /// The scenario's table definitions, in table order.
        pub static TABLES: &[&$crate::table::TableDef] = &[$(&$def),+];
    };
}

/// A contiguous share of a day's work: entities `[start, end)` of `total`, by parent index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index of this shard.
    pub index: u32,
    /// Number of shards the day is cut into (≥ 1).
    pub count: u32,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (count >= 1 && index < count).then_some(Shard { index, count })
    }

    /// This shard's part of a day's `items` (see [`Shard::range`]).
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let r = self.range(items.len() as u64);
        &items[r.start as usize..r.end as usize]
    }

    /// The entity range of this shard when a day has `n` entities; the ranges of shards
    /// `0..count` are contiguous, in order, and cover `0..n`.
    pub fn range(&self, n: u64) -> std::ops::Range<u64> {
        let lo = n * self.index as u64 / self.count as u64;
        let hi = n * (self.index as u64 + 1) / self.count as u64;
        lo..hi
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `I/N` with 0 ≤ I < N.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard {s:?}: expected I/N with 0 <= I < N, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i: u32 = i.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n).ok_or_else(bad)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_range_in_order() {
        for n in [0u64, 1, 7, 100, 1013] {
            for count in 1..=5 {
                let mut next = 0;
                for index in 0..count {
                    let r = Shard::new(index, count).unwrap().range(n);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, n);
            }
        }
    }

    #[test]
    fn parses_shards_and_names_the_bad_value() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1/0", "a/2", "1", "-1/2", ""] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }
}
