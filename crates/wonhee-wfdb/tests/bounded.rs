//! Reading a file whose frames hold very many samples (`80x1000000`) costs a small multiple of
//! the file's size in a few allocations, not one per sample of the frame. The allocations are
//! counted by a global allocator, hence a test binary of its own with a single test (nothing
//! else allocating meanwhile).
#![allow(unsafe_code, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use wonhee_wfdb::Record;

/// The system allocator, counting allocations and the bytes live at most.
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grown(size: usize) {
    ALLOCS.fetch_add(1, Relaxed);
    let live = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `System.alloc`, with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grown(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `System.alloc_zeroed`, with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grown(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (the caller's guarantee).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `System.realloc`, with the caller's pointer, layout and size.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grown(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made and the most bytes live (beyond those live before) while `f` runs.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let (allocs, live) = (ALLOCS.load(Relaxed), LIVE.load(Relaxed));
    PEAK.store(live, Relaxed);
    let out = f();
    (
        out,
        ALLOCS.load(Relaxed) - allocs,
        PEAK.load(Relaxed).saturating_sub(live),
    )
}

/// One frame of a million samples (a header such as `80x1000000` over a 1 MB file, with and
/// without skew and a length): read in a few dozen allocations (it was one per sample of the
/// frame, some 50 MB for the 1 MB file), at most a few times the file's size in bytes (4 bytes
/// per sample, doubled by the skew's padding).
#[test]
fn a_huge_frame_is_read_in_few_allocations() {
    const SIZE: usize = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let dat: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("h.dat"), &dat).unwrap();
    let want = |range: std::ops::Range<usize>| -> Vec<i32> {
        dat[range].iter().map(|&b| i32::from(b) - 128).collect()
    };
    for (hea, lens, bound) in [
        (
            "h 1 250 1\nh.dat 80x1000000 200/mV 8 0 0 0 0 s0\n",
            &[SIZE][..],
            12,
        ),
        (
            "h 1 250\nh.dat 80x1000000 200/mV 8 0 0 0 0 s0\n",
            &[SIZE][..],
            12,
        ),
        (
            "h 2 250 1\nh.dat 80x400000:1 200/mV 8 0 0 0 0 s0\nh.dat 80x600000 200/mV 8 0 0 0 0 s1\n",
            &[400_000, 600_000][..],
            24,
        ),
    ] {
        let path = dir.path().join("h.hea");
        std::fs::write(&path, hea).unwrap();
        let rec = Record::open(&path).unwrap();
        let (sig, allocs, peak) = measure(|| rec.read_signals().unwrap());
        assert!(allocs < 100, "{hea}: {allocs} allocations");
        assert!(peak <= bound * SIZE, "{hea}: {peak} bytes at most");
        assert_eq!(sig.n_frames(), 1, "{hea}");
        for (i, &len) in lens.iter().enumerate() {
            assert_eq!(sig.len_of(i), len, "{hea}");
        }
        if lens.len() == 1 {
            assert_eq!(sig.digital(0), want(0..SIZE), "{hea}");
        } else {
            // Skew 1 over a 1-frame record: all of signal 0 is past the end, padding (zero
            // bytes, -128 in format 80) but its last sample, invalid (also -128 here).
            assert!(sig.digital(0).iter().all(|&d| d == -128), "{hea}");
            assert_eq!(sig.digital(1), want(400_000..SIZE), "{hea}");
        }
    }
}
