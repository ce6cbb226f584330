//! What a defect is: its kind, and the manifest record naming the row, the column and the
//! clean value it replaced.

/// The kinds of defect the dirty layer plants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DefectKind {
    /// The same row delivered twice, byte for byte.
    ExactDuplicate,
    /// The row delivered twice, one copy with a text value padded with spaces.
    NearDuplicate,
    /// A null in a nullable column that has a value.
    Null,
    /// An email written with capitals and spaces, `@@`, or ` at ` for `@`.
    MalformedEmail,
    /// A phone number not in E.164: written as at home (`(030) 1234-5678`), without its
    /// `+`, with the `00` international prefix, or with an extension (`x12`).
    MalformedPhone,
    /// An enum value (a status, a method, a country code) in another casing.
    EnumCase,
    /// Every amount of the row in cents instead of currency units (×100).
    AmountInCents,
    /// A child row (an order line) whose parent (order) never arrives.
    Orphan,
    /// An order line for an item the session added to its cart and did not buy (removed
    /// again): the original Faux behaviour of order lines holding every item ever added.
    AbandonedCartLine,
    /// A row of a day's partition first delivered missing or with a stale value, and right
    /// only once the partition is rewritten days later (files and a database's raw tables).
    LateFile,
    /// A timestamp of the legacy export not in RFC 3339 UTC (an offset, a US date in a named
    /// zone, epoch seconds).
    MixedTimestamp,
    /// The legacy export file is Latin-1 (ISO-8859-1), not UTF-8: a defect of the whole file.
    Latin1Encoding,
    /// The legacy export file starts with a UTF-8 byte order mark: a defect of the whole file.
    Utf8Bom,
}

impl DefectKind {
    pub const ALL: [DefectKind; 13] = [
        DefectKind::ExactDuplicate,
        DefectKind::NearDuplicate,
        DefectKind::Null,
        DefectKind::MalformedEmail,
        DefectKind::MalformedPhone,
        DefectKind::EnumCase,
        DefectKind::AmountInCents,
        DefectKind::Orphan,
        DefectKind::AbandonedCartLine,
        DefectKind::LateFile,
        DefectKind::MixedTimestamp,
        DefectKind::Latin1Encoding,
        DefectKind::Utf8Bom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DefectKind::ExactDuplicate => "exact_duplicate",
            DefectKind::NearDuplicate => "near_duplicate",
            DefectKind::Null => "null",
            DefectKind::MalformedEmail => "malformed_email",
            DefectKind::MalformedPhone => "malformed_phone",
            DefectKind::EnumCase => "enum_case",
            DefectKind::AmountInCents => "amount_in_cents",
            DefectKind::Orphan => "orphan",
            DefectKind::AbandonedCartLine => "abandoned_cart_line",
            DefectKind::LateFile => "late_file",
            DefectKind::MixedTimestamp => "mixed_timestamp",
            DefectKind::Latin1Encoding => "latin1_encoding",
            DefectKind::Utf8Bom => "utf8_bom",
        }
    }

    /// The defect adds a row the clean data does not have (a copy, an orphan): the fix is
    /// to drop it. Otherwise it changes a value of a real row: the fix restores the value.
    pub fn adds_a_row(self) -> bool {
        // (a file's encoding changes every value of it: graded by the file's rows)
        matches!(
            self,
            DefectKind::ExactDuplicate
                | DefectKind::NearDuplicate
                | DefectKind::Orphan
                | DefectKind::AbandonedCartLine
        )
    }

    /// A defect of a whole file (its key is the file's path), not of a row.
    pub fn of_a_file(self) -> bool {
        matches!(self, DefectKind::Latin1Encoding | DefectKind::Utf8Bom)
    }

    /// Planted only in the legacy export, never by the row layer.
    pub fn legacy_only(self) -> bool {
        matches!(
            self,
            DefectKind::MixedTimestamp | DefectKind::Latin1Encoding | DefectKind::Utf8Bom
        )
    }
}

impl std::fmt::Display for DefectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DefectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<DefectKind, String> {
        DefectKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = DefectKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown defect kind {s:?}: valid kinds are {}",
                    names.join(", ")
                )
            })
    }
}

/// One planted defect, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Defect {
    pub table: &'static str,
    /// The day whose extract holds the dirty row.
    pub day: crate::Date,
    /// The dirty row's primary key as text, `|`-separated (an orphan's own key).
    pub key: String,
    /// The column changed; `None` for a defect of the whole row (exact duplicate, orphan).
    pub column: Option<&'static str>,
    pub kind: DefectKind,
    /// The clean value (`None`: null, or the row should not exist).
    pub clean: Option<String>,
    /// The value written instead (`None`: null, or the whole row).
    pub dirty: Option<String>,
    /// A late file's: the day whose generation rewrites the partition with the right row.
    pub corrected_on: Option<crate::Date>,
}
