//! Safe front-end to the `gemm` crate (the matrix-multiply engine candle's CPU backend uses),
//! for the fused transformer block, whose products work on raw slices inside a custom op.

/// A matrix view: element (i, j) at `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// Row-major `[rows, cols]` view.
    pub fn rm(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of a row-major `[rows, cols]` matrix.
    pub fn tr(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            rs: 1,
            cs: cols,
        }
    }

    /// Whether every element of a `rows x cols` view lies inside `data`.
    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || (rows - 1)
                .checked_mul(self.rs)
                .and_then(|a| {
                    (cols - 1)
                        .checked_mul(self.cs)
                        .and_then(|b| a.checked_add(b))
                })
                .is_some_and(|last| last < self.data.len())
    }
}

/// `C = A B` (or `C += A B` with `accumulate`) for `A` `[m, k]`, `B` `[k, n]` and a row-major
/// `C` `[m, n]` (row stride `ldc >= n`), multi-threaded on the rayon pool when `parallel`.
///
/// Panics if a view does not fit its slice (a bug in the caller's index arithmetic).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: View<'_>,
    b: View<'_>,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        a.fits(m, k) && b.fits(k, n),
        "sgemm: operand view out of bounds"
    );
    assert!(
        ldc >= n && (m - 1) * ldc + n <= c.len(),
        "sgemm: output view out of bounds"
    );
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                c[r * ldc..r * ldc + n].fill(0.0);
            }
        }
        return;
    }
    let threads = rayon::current_num_threads();
    let par = if parallel && threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    #[allow(unsafe_code)]
    // SAFETY: the asserts above prove that every element the product reads (A: (m-1)*rs +
    // (k-1)*cs at most, likewise B) lies inside its borrowed slice and that every element it
    // writes, (i, j) -> i * ldc + j with j < n <= ldc, lies inside `c`, distinct for distinct
    // (i, j). `c` is borrowed mutably, so it overlaps neither input. Strides fit in isize
    // because they index within slices. With `read_dst = false` gemm does not read C.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            ldc as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgemm_matches_naive_with_transposes() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let bt: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.11).cos()).collect(); // [n, k]
        let mut c = vec![1f32; m * (n + 2)];
        sgemm(
            m,
            n,
            k,
            View::rm(&a, k),
            View::tr(&bt, k),
            &mut c,
            n + 2,
            true,
            true,
        );
        for i in 0..m {
            for j in 0..n {
                let want: f32 = 1.0 + (0..k).map(|p| a[i * k + p] * bt[j * k + p]).sum::<f32>();
                assert!((c[i * (n + 2) + j] - want).abs() < 1e-5);
            }
            assert_eq!(c[i * (n + 2) + n], 1.0, "wrote past the row");
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn sgemm_rejects_short_slices() {
        let a = vec![0f32; 5];
        let mut c = vec![0f32; 4];
        sgemm(
            2,
            2,
            3,
            View::rm(&a, 3),
            View::rm(&a, 2),
            &mut c,
            2,
            false,
            false,
        );
    }
}
