//! The process's allocator: the system's, except that a block of a megabyte or more is
//! mapped on its own, and one of several megabytes is backed by huge pages where the kernel
//! allows them.
//!
//! In: allocation requests. Out: memory. A check of a large output holds a few blocks of
//! megabytes (texts, the tables of values a comparison builds); on 4 KiB pages each one costs
//! a fault per page first touched, about a quarter of such a check's time. In 2 MiB pages it
//! costs a fault per 2 MiB, but a huge page is resident as soon as any byte of it is touched:
//! the unused end of a buffer grown by doubling would count whole. So only blocks of
//! `HUGE_FROM` or more get the advice, where at most one huge page of a block is partly
//! used, and each mapping is only as long as its block (rounded to 4 KiB). Small blocks, most
//! of them, stay with the system allocator. Where transparent huge pages are off, the advice
//! is ignored and the blocks are plain mappings.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this large are mapped on their own.
const LARGE: usize = 1 << 20;
/// Blocks at least this large are advised to be backed by huge pages.
const HUGE_FROM: usize = 8 << 20;
/// The alignment a mapping always has.
const PAGE: usize = 4096;

/// The allocator `main` installs.
pub struct Allocator;

fn large(layout: &Layout) -> bool {
    layout.size() >= LARGE && layout.align() <= PAGE
}

fn mapped_len(size: usize) -> usize {
    size.div_ceil(PAGE) * PAGE
}

/// Advise huge pages for a mapping of `len` bytes at `p` when it is long enough.
unsafe fn advise(p: *mut libc::c_void, len: usize) {
    if len >= HUGE_FROM {
        // SAFETY: the range is one mapping of ours; advice only (an error leaves small pages)
        unsafe { libc::madvise(p, len, libc::MADV_HUGEPAGE) };
    }
}

/// A fresh mapping of at least `size` bytes (zeroed, as every new mapping is), advised
/// to be backed by huge pages; null when the kernel refuses.
unsafe fn map(size: usize) -> *mut u8 {
    let len = mapped_len(size);
    // SAFETY: an anonymous private mapping at an address the kernel chooses
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
    // SAFETY: the range was just mapped
    unsafe { advise(p, len) };
    p.cast()
}

// SAFETY: large blocks are whole mappings of `mapped_len(size)` bytes, unmapped with that
// length; every other block is the system allocator's, freed by it. A block's size decides
// which, and `dealloc` and `realloc` receive the layout it was allocated with.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if large(&layout) {
            unsafe { map(layout.size()) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if large(&layout) {
            unsafe { map(layout.size()) }
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if large(&layout) {
            unsafe { libc::munmap(ptr.cast(), mapped_len(layout.size())) };
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` with `layout.align()` is a valid layout
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (large(&layout), large(&new)) {
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            (true, true) => {
                let (old_len, new_len) = (mapped_len(layout.size()), mapped_len(new_size));
                if old_len == new_len {
                    return ptr;
                }
                // SAFETY: `ptr` is a whole mapping of `old_len` bytes; the kernel moves it if
                // it cannot grow in place, keeping its pages and its advice
                let p = unsafe { libc::mremap(ptr.cast(), old_len, new_len, libc::MREMAP_MAYMOVE) };
                if p == libc::MAP_FAILED {
                    std::ptr::null_mut()
                } else {
                    // a block that grew past the threshold gets the advice it lacked
                    unsafe { advise(p, new_len) };
                    p.cast()
                }
            }
            _ => {
                // across the threshold: a new block of the other kind, the bytes copied
                let p = unsafe { self.alloc(new) };
                if !p.is_null() {
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                p
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_either_kind_hold_their_bytes_across_growth_and_shrinking() {
        let a = Allocator;
        // small → large → larger → small, the first bytes kept at each step
        let sizes = [
            1000,
            LARGE + 10,
            3 * LARGE + 5,
            HUGE_FROM + 7,
            2 * LARGE,
            500,
        ];
        unsafe {
            let mut layout = Layout::from_size_align(sizes[0], 8).unwrap();
            let mut p = a.alloc(layout);
            assert!(!p.is_null());
            for i in 0..sizes[0] {
                *p.add(i) = (i % 251) as u8;
            }
            for &size in &sizes[1..] {
                p = a.realloc(p, layout, size);
                assert!(!p.is_null(), "realloc to {size}");
                layout = Layout::from_size_align(size, 8).unwrap();
                let kept = size.min(sizes[0]);
                assert!((0..kept).all(|i| *p.add(i) == (i % 251) as u8), "at {size}");
                // the whole block is writable
                *p.add(size - 1) = 7;
            }
            a.dealloc(p, layout);
        }
    }

    #[test]
    fn a_large_zeroed_block_is_zero() {
        let a = Allocator;
        let layout = Layout::from_size_align(LARGE * 3, 64).unwrap();
        unsafe {
            let p = a.alloc_zeroed(layout);
            assert!(!p.is_null());
            assert!((0..layout.size()).step_by(4093).all(|i| *p.add(i) == 0));
            assert_eq!(p as usize % 64, 0);
            a.dealloc(p, layout);
        }
    }

    /// The `VmFlags` line of the mapping holding `p`, from /proc/self/smaps.
    fn flags_of(p: *mut u8) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let addr = p as usize;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((a, b)) = range.split_once('-')
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                inside = (a..b).contains(&addr);
            } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
                return flags.trim().to_string();
            }
        }
        panic!("no mapping holds {addr:#x}")
    }

    #[test]
    fn only_blocks_of_several_megabytes_are_advised_huge_pages_and_growth_earns_it() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            // a kernel built without huge pages refuses the advice: nothing to see
            return;
        }
        let a = Allocator;
        let hinted = |p| flags_of(p).split(' ').any(|f| f == "hg");
        unsafe {
            let small = Layout::from_size_align(2 * LARGE, 8).unwrap();
            let p = a.alloc(small);
            assert!(!hinted(p), "a 2 MiB block: {}", flags_of(p));
            let p = a.realloc(p, small, HUGE_FROM);
            assert!(hinted(p), "grown to {HUGE_FROM}: {}", flags_of(p));
            a.dealloc(p, Layout::from_size_align(HUGE_FROM, 8).unwrap());
        }
    }
}
