//! The macros that declare tables: [`table!`](crate::table!) (one table's struct, definition
//! and visitor) and [`scenario_tables!`](crate::scenario_tables!) (a scenario's table list),
//! and what `table!` expands to call.

/// Declares a table once: its row struct, its [`TableDef`](super::TableDef) static and its
/// [`Row`](super::Row) impl, from one list of fields. Column `i` is field `i`, named after it,
/// documented by the same text, and visited with the method the field names, so a row cannot
/// drift from its definition:
/// - a method that cannot write the column's logical type (`uuid` for a `Text` column) fails
///   the build;
/// - `.nullable()` makes the column nullable and visits `None` as `null`; the field must then
///   be an `Option`, and an `Option` field without it does not compile.
///
/// Each field reads `name: RustType = method(LogicalType, "description")`, where `method` is
/// the [`FieldVisitor`](super::FieldVisitor) method that writes it: `text` and `json` take
/// anything that is `AsRef<str>`, `label` a `&'static str`, `uuid` and `hex_uuid` a
/// [`Uuid`](crate::Uuid), `int` and `decimal` an `i64`, `bool`, `date` and `timestamp` their
/// types. The static lists every [`TableDef`](super::TableDef) field but `columns`.
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
///         created: None,
///         parent: None,
///         keep: faux::Keep::Window,
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
///         partition: "name", created: None, parent: None, keep: faux::Keep::Window,
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
///         partition: "name", created: None, parent: None, keep: faux::Keep::Window,
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
///         partition: "name", created: None, parent: None, keep: faux::Keep::Window,
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

/// Support for [`table!`], per [`FieldVisitor`](super::FieldVisitor) method: which logical types it writes, and
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
        pub fn json<V: FieldVisitor + ?Sized, S: crate::table::JsonValue + ?Sized>(
            v: &mut V,
            s: &S,
        ) {
            s.visit_json(v)
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
