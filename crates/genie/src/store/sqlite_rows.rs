//! A SQLite connection whose list pages are read straight from SQLite's statement.
//!
//! rusqlite's `Row::get_ref` makes four SQLite calls per cell (the column count, the type, the
//! text and its length), each entering and leaving the connection's mutex; on a 100-row page
//! of orders that is ~6,000 calls and ~20 % of the page's CPU (`perf`, BENCHMARKS.md). The
//! statements a page steps through are prepared here instead, kept per connection, and each
//! cell is read with one column call (`sqlite3_column_value`) and the value accessors, which
//! take no lock. Every other statement still goes through rusqlite.
//!
//! The audited `unsafe` of the store lives here: the raw statements are only ever used by the
//! thread holding their [`SqliteConn`], stepped and reset within one call, and finalized before
//! the connection closes.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_int;
use std::ptr::NonNull;

use rusqlite::{Connection, ffi};

use super::StoreError;
use super::backend::Arg;
use super::schema::{Cell, Cells, json_plain};

/// Raw statements kept per connection at most: every resource's page query in each filter
/// shape a client uses (after that, the whole set is finalized and prepared again as used).
const CAPACITY: usize = 128;

/// A rusqlite connection and the raw statements of its list pages.
#[derive(Debug)]
pub struct SqliteConn {
    // declared before `conn`, so dropped before it: every statement is finalized before the
    // connection closes (SQLite refuses to close a connection with open statements, and
    // rusqlite's drop then leaves it open: a leaked file handle and page cache)
    rows: RefCell<HashMap<String, Stmt>>,
    conn: Connection,
}

impl std::ops::Deref for SqliteConn {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl From<Connection> for SqliteConn {
    fn from(conn: Connection) -> Self {
        SqliteConn {
            rows: RefCell::default(),
            conn,
        }
    }
}

/// A prepared statement owned by one [`SqliteConn`].
#[derive(Debug)]
struct Stmt(NonNull<ffi::sqlite3_stmt>);

// SAFETY: a statement moves between threads only inside its `SqliteConn` (as the rusqlite
// `Connection` beside it does), and is used only by the thread that holds that connection.
unsafe impl Send for Stmt {}

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: the pointer came from sqlite3_prepare_v3 and is finalized once, here.
        unsafe { ffi::sqlite3_finalize(self.0.as_ptr()) };
    }
}

/// Resets a statement when a read ends, however it ends (an error, a panic in the caller's
/// closure): the next read of the same statement starts from a clean state.
struct Reset(*mut ffi::sqlite3_stmt);

impl Drop for Reset {
    fn drop(&mut self) {
        // SAFETY: the statement is alive (owned by the cache the caller borrows).
        unsafe {
            ffi::sqlite3_reset(self.0);
            ffi::sqlite3_clear_bindings(self.0);
        }
    }
}

/// The row a statement points at, read cell by cell.
struct Row(*mut ffi::sqlite3_stmt);

impl Cells for Row {
    fn cell(&self, i: usize) -> Cell<'_> {
        let Ok(i) = c_int::try_from(i) else {
            return Cell::Null;
        };
        // SAFETY: the statement is alive and on a row for as long as `self` is borrowed (the
        // caller's closure gets `&Row` between one step and the next); an index out of range
        // gives SQLite's static NULL value.
        unsafe {
            let v = ffi::sqlite3_column_value(self.0, i);
            match ffi::sqlite3_value_type(v) {
                ffi::SQLITE_INTEGER => Cell::Int(ffi::sqlite3_value_int64(v)),
                ffi::SQLITE_TEXT => {
                    let p = ffi::sqlite3_value_text(v);
                    let n = ffi::sqlite3_value_bytes(v);
                    if p.is_null() || n < 0 {
                        return Cell::Null;
                    }
                    let bytes = std::slice::from_raw_parts(p, n as usize);
                    if json_plain(bytes) {
                        // ASCII is UTF-8
                        return Cell::Plain(std::str::from_utf8_unchecked(bytes));
                    }
                    // the store writes UTF-8 only; anything else is served as null, never as
                    // bad JSON
                    std::str::from_utf8(bytes).map_or(Cell::Null, Cell::Text)
                }
                _ => Cell::Null,
            }
        }
    }
}

impl SqliteConn {
    /// Hands each row of `sql` (with `$N` placeholders) to `f`, from SQLite's row buffer.
    pub fn each_row(
        &self,
        sql: &str,
        args: &[Arg],
        mut f: impl FnMut(&dyn Cells),
    ) -> Result<(), StoreError> {
        let mut rows = self.rows.borrow_mut();
        let stmt = match rows.get(sql) {
            Some(s) => s.0.as_ptr(),
            None => {
                if rows.len() >= CAPACITY {
                    rows.clear();
                }
                let s = self.prepare(sql)?;
                let p = s.0.as_ptr();
                rows.insert(sql.to_string(), s);
                p
            }
        };
        let _reset = Reset(stmt);
        for (i, a) in args.iter().enumerate() {
            let i = i as c_int + 1;
            // SAFETY: `stmt` is alive; text is copied by SQLite (SQLITE_TRANSIENT).
            let rc = unsafe {
                match a {
                    Arg::I(n) => ffi::sqlite3_bind_int64(stmt, i, *n),
                    Arg::T(t) => ffi::sqlite3_bind_text(
                        stmt,
                        i,
                        t.as_ptr().cast(),
                        c_int::try_from(t.len()).unwrap_or(c_int::MAX),
                        ffi::SQLITE_TRANSIENT(),
                    ),
                    Arg::NullI | Arg::NullT => ffi::sqlite3_bind_null(stmt, i),
                    Arg::IArr(_) | Arg::TArr(_) => {
                        return Err(StoreError::Sqlite(rusqlite::Error::ToSqlConversionFailure(
                            "arrays are bound in PostgreSQL only".into(),
                        )));
                    }
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(self.error(rc));
            }
        }
        loop {
            // SAFETY: `stmt` is alive and bound; `Row` is only lent to `f` until the next step.
            match unsafe { ffi::sqlite3_step(stmt) } {
                ffi::SQLITE_ROW => f(&Row(stmt)),
                ffi::SQLITE_DONE => return Ok(()),
                rc => return Err(self.error(rc)),
            }
        }
    }

    fn prepare(&self, sql: &str) -> Result<Stmt, StoreError> {
        // `$N` is a named parameter to SQLite; `?N` is the N-th
        let sql = sql.replace('$', "?");
        let len = c_int::try_from(sql.len())
            .map_err(|_| StoreError::Sqlite(rusqlite::Error::InvalidQuery))?;
        let mut p = std::ptr::null_mut();
        // SAFETY: the handle is this connection's, used on this thread; `sql` outlives the call.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.conn.handle(),
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut p,
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error(rc));
        }
        NonNull::new(p)
            .map(Stmt)
            .ok_or(StoreError::Sqlite(rusqlite::Error::InvalidQuery))
    }

    /// SQLite's error for a failed call, with its message.
    fn error(&self, rc: c_int) -> StoreError {
        // SAFETY: the handle is this connection's; the message is copied at once.
        let msg = unsafe {
            let m = ffi::sqlite3_errmsg(self.conn.handle());
            (!m.is_null()).then(|| std::ffi::CStr::from_ptr(m).to_string_lossy().into_owned())
        };
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> SqliteConn {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE t (id TEXT, n INTEGER, j TEXT);
             INSERT INTO t VALUES ('a', 1, 'x\"y'), ('b', NULL, 'Zoë'), ('c', 3, CAST(X'ff' AS TEXT)),
               ('d', 4, 'tab	and' || char(1)), ('e', 5, '2025-01-01T00:00:00Z');",
        )
        .unwrap();
        c.into()
    }

    /// The rows as (id, n, j), cells rendered as the page renderer sees them.
    fn read(c: &SqliteConn, sql: &str, args: &[Arg]) -> Vec<String> {
        let mut out = Vec::new();
        c.each_row(sql, args, |r| {
            let s: Vec<String> = (0..4)
                .map(|i| match r.cell(i) {
                    Cell::Null => "null".to_string(),
                    Cell::Int(n) => n.to_string(),
                    Cell::Text(t) => format!("'{t}'"),
                    Cell::Plain(t) => format!("p'{t}'"),
                })
                .collect();
            out.push(s.join(" "));
        })
        .unwrap();
        out
    }

    #[test]
    fn cells_read_as_rusqlite_would_and_statements_are_reused_with_new_arguments() {
        let c = conn();
        let sql = "SELECT id, n, j FROM t WHERE id >= $1 ORDER BY id LIMIT $2";
        // the 4th cell is past the last column: null, never a read out of bounds; text that
        // is not UTF-8 is null, never bad JSON; ASCII with nothing to escape is plain, text
        // with a quote, a control character or a non-ASCII letter goes through the escaper
        assert_eq!(
            read(&c, sql, &[Arg::T("a".into()), Arg::I(10)]),
            [
                "p'a' 1 'x\"y' null",
                "p'b' null 'Zoë' null",
                "p'c' 3 null null",
                "p'd' 4 'tab\tand\u{1}' null",
                "p'e' 5 p'2025-01-01T00:00:00Z' null"
            ]
        );
        assert_eq!(c.rows.borrow().len(), 1);
        // the same statement, reset and bound again
        assert_eq!(
            read(&c, sql, &[Arg::T("b".into()), Arg::I(1)]),
            ["p'b' null 'Zoë' null"]
        );
        assert_eq!(c.rows.borrow().len(), 1);
        // a read that stopped early (an error in the middle) leaves nothing behind either
        assert!(
            c.each_row(sql, &[Arg::IArr(vec![])], |_| ()).is_err(),
            "arrays are not bindable in SQLite"
        );
        assert_eq!(
            read(&c, sql, &[Arg::T("c".into()), Arg::I(1)]),
            ["p'c' 3 null null"]
        );
    }

    #[test]
    fn a_bad_statement_is_an_error_with_sqlite_message_and_the_connection_closes() {
        let c = conn();
        let err = c
            .each_row("SELECT nope FROM t", &[], |_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such column: nope"), "{err}");
        read(&c, "SELECT id FROM t", &[]);
        read(&c, "SELECT n FROM t", &[]);
        // SQLite will not close a connection with statements open: dropping the cache (as
        // dropping a `SqliteConn` does first) finalizes them all
        let SqliteConn { rows, conn } = c;
        assert_eq!(rows.borrow().len(), 2);
        drop(rows);
        conn.close().map_err(|(_, e)| e).unwrap();
    }
}
