//! The process's allocator: glibc's malloc, except that large blocks (a day's change feed and
//! its sort order: megabytes each, allocated and freed every day) are mapped on their own and
//! marked for transparent huge pages.
//!
//! Why: such a block is written once, read once and freed, so every 4 KiB page of it was a
//! page fault (zeroing the page, and the kernel's bookkeeping, ~15 % of a streamed day's CPU
//! time with glibc's page faults of all sizes). On a 2 MiB huge page the kernel takes one
//! fault for 512 pages. The system's setting here is `madvise` (huge pages only where asked),
//! and glibc asks only when started with `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, which a
//! program cannot set for itself. Where huge pages are off the advice is ignored and a block
//! is an ordinary mapping, as glibc makes for large blocks anyway.
//!
//! Small blocks, and any block on a system other than Linux with glibc, go to the system
//! allocator unchanged.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks of at least this size are mapped on their own. Below it glibc reuses freed memory,
/// and rounding a block up to a huge page costs zeroing: at 1 MiB the ~100 event lists of a
/// day (1–2 MiB each) took a huge page each, and the kernel zeroed more than it saved.
const LARGE: usize = 4 << 20;

/// The transparent huge page size on x86-64 and (with 4 KiB base pages) aarch64; a mapping is
/// rounded up to it so that its end is huge-page-backed too.
const HUGE_PAGE: usize = 2 << 20;

/// A mapping's alignment: a page.
const PAGE: usize = 4096;

/// See the module documentation.
#[derive(Debug)]
pub struct HugePageAlloc;

fn large(layout: &Layout) -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu"))
        && layout.size() >= LARGE
        && layout.align() <= PAGE
}

fn mapped_len(size: usize) -> usize {
    size.div_ceil(HUGE_PAGE) * HUGE_PAGE
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod map {
    use super::{HUGE_PAGE, mapped_len};

    /// A fresh anonymous mapping of at least `size` bytes (zeroed), asked to be backed by huge
    /// pages; null if the system refuses.
    pub(super) unsafe fn map(size: usize) -> *mut u8 {
        let len = mapped_len(size);
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches
        // no existing memory
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        advise(p, len);
        p.cast()
    }

    /// Huge pages for the mapping at `p`; only a hint (ignored where unsupported).
    fn advise(p: *mut libc::c_void, len: usize) {
        if len >= HUGE_PAGE {
            // SAFETY: `p..p+len` is a mapping of ours; the advice changes no contents
            unsafe { libc::madvise(p, len, libc::MADV_HUGEPAGE) };
        }
    }

    /// Unmaps a block `map` returned for `size` bytes.
    pub(super) unsafe fn unmap(p: *mut u8, size: usize) {
        // SAFETY: the caller passes a block of ours with the size it was asked for
        unsafe { libc::munmap(p.cast(), mapped_len(size)) };
    }

    /// Grows or shrinks a mapped block, moving it if need be (the kernel moves the pages, it
    /// does not copy them); null if the system refuses (the block is then unchanged).
    pub(super) unsafe fn remap(p: *mut u8, old: usize, new: usize) -> *mut u8 {
        let (from, to) = (mapped_len(old), mapped_len(new));
        if from == to {
            return p;
        }
        // SAFETY: `p` is a mapping of ours of `from` bytes
        let q = unsafe { libc::mremap(p.cast(), from, to, libc::MREMAP_MAYMOVE) };
        if q == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        advise(q, to);
        q.cast()
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod map {
    // never called: `large` is false on other systems
    pub(super) unsafe fn map(_: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
    pub(super) unsafe fn unmap(_: *mut u8, _: usize) {}
    pub(super) unsafe fn remap(_: *mut u8, _: usize, _: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
}

// SAFETY: large blocks are whole page-aligned mappings of at least their size (alignment up
// to a page is met); each is unmapped with the length it was mapped with, as `large` of the
// same layout says which kind a block is. Everything else is the system allocator's.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if large(&layout) {
            unsafe { map::map(layout.size()) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if large(&layout) {
            // a fresh mapping is zeroed
            unsafe { map::map(layout.size()) }
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if large(&layout) {
            unsafe { map::unmap(ptr, layout.size()) }
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (large(&layout), large(&new)) {
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            (true, true) => unsafe { map::remap(ptr, layout.size(), new_size) },
            // crossing the threshold: a new block of the other kind, the contents copied
            _ => {
                let q = unsafe { self.alloc(new) };
                if !q.is_null() {
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                q
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_both_kinds_keep_their_contents_across_reallocation() {
        // sizes crossing the threshold both ways, and growing / shrinking within mappings
        let sizes = [
            100,
            LARGE - 1,
            LARGE,
            LARGE + 1,
            3 * LARGE + 5,
            HUGE_PAGE + 5,
            5 * HUGE_PAGE,
            LARGE,
            4000,
        ];
        let a = HugePageAlloc;
        let mut layout = Layout::from_size_align(sizes[0], 8).unwrap();
        let p = unsafe { a.alloc(layout) };
        assert!(!p.is_null());
        let fill = |p: *mut u8, n: usize| {
            for i in 0..n {
                unsafe { *p.add(i) = (i % 251) as u8 };
            }
        };
        fill(p, layout.size());
        let mut p = p;
        for &size in &sizes[1..] {
            let q = unsafe { a.realloc(p, layout, size) };
            assert!(!q.is_null(), "realloc to {size}");
            let kept = layout.size().min(size);
            for i in 0..kept {
                assert_eq!(
                    unsafe { *q.add(i) },
                    (i % 251) as u8,
                    "byte {i} after {size}"
                );
            }
            layout = Layout::from_size_align(size, 8).unwrap();
            fill(q, size);
            p = q;
        }
        unsafe { a.dealloc(p, layout) };

        let z = Layout::from_size_align(3 * HUGE_PAGE, 64).unwrap();
        let p = unsafe { a.alloc_zeroed(z) };
        assert!(!p.is_null() && (p as usize).is_multiple_of(64));
        assert!(
            (0..z.size())
                .step_by(4093)
                .all(|i| unsafe { *p.add(i) } == 0)
        );
        unsafe { a.dealloc(p, z) };
    }

    #[test]
    fn alignment_past_a_page_goes_to_the_system_allocator() {
        let l = Layout::from_size_align(2 * LARGE, 2 * PAGE).unwrap();
        assert!(!large(&l));
        let p = unsafe { HugePageAlloc.alloc(l) };
        assert!(!p.is_null() && (p as usize).is_multiple_of(2 * PAGE));
        unsafe { HugePageAlloc.dealloc(p, l) };
    }
}
