//! A point-region quadtree over the embedding, for the Barnes-Hut estimate of the repulsive
//! forces.
//!
//! Built afresh each iteration by recursive 4-way partitioning (sequential, `O(n log n)`), so
//! its shape depends only on the points. A cell summarizes its points by their centre of mass
//! when `side / distance < theta` (`side` = the cell's full side length, as in Barnes & Hut
//! and openTSNE); leaves are always summed point by point, and `theta = 0` sums every pair
//! exactly.

/// Deepest level; points closer than `side / 2^MAX_DEPTH` share a leaf (summed exactly).
const MAX_DEPTH: usize = 52;
/// Marks an absent child.
const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    /// Centre of mass.
    com: [f64; 2],
    /// Number of points.
    mass: f64,
    /// `(side / theta)²`: the node is summarized for squared distances above this.
    crit: f64,
    /// Leaf: its points are `start..end` of the sorted arrays.
    start: u32,
    end: u32,
    leaf: bool,
    /// Children by quadrant (`NONE` when empty).
    child: [u32; 4],
}

/// The quadtree, with the points reordered so each cell's points are contiguous.
pub(crate) struct QuadTree {
    nodes: Vec<Node>,
    /// Original index of the point at each sorted position.
    pub perm: Vec<u32>,
    /// Points in sorted order.
    pub pts: Vec<[f64; 2]>,
    scratch: Vec<(u32, [f64; 2])>,
    inv_theta2: f64,
}

impl QuadTree {
    /// Builds the tree over `y`.
    pub fn new(y: &[[f64; 2]], theta: f64) -> Self {
        let n = y.len();
        let mut lo = [f64::INFINITY; 2];
        let mut hi = [f64::NEG_INFINITY; 2];
        for p in y {
            for d in 0..2 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        let extent = (hi[0] - lo[0]).max(hi[1] - lo[1]);
        // A little room so the largest coordinates fall strictly inside the root cell.
        let side = extent * (1.0 + 1e-9) + f64::MIN_POSITIVE;
        let inv_theta2 = if theta > 0.0 {
            1.0 / (theta * theta)
        } else {
            f64::INFINITY
        };
        let mut t = Self {
            nodes: Vec::with_capacity(2 * n),
            perm: (0..n as u32).collect(),
            pts: y.to_vec(),
            scratch: Vec::with_capacity(n),
            inv_theta2,
        };
        if n > 0 {
            t.build(0, n, lo, side, 0);
        }
        t
    }

    fn build(
        &mut self,
        start: usize,
        end: usize,
        corner: [f64; 2],
        side: f64,
        depth: usize,
    ) -> u32 {
        let id = self.nodes.len() as u32;
        let (mut sx, mut sy) = (0.0, 0.0);
        for p in &self.pts[start..end] {
            sx += p[0];
            sy += p[1];
        }
        let m = (end - start) as f64;
        let crit = if self.inv_theta2.is_infinite() {
            f64::INFINITY
        } else {
            side * side * self.inv_theta2
        };
        let leaf = end - start == 1 || depth >= MAX_DEPTH || side <= 0.0;
        self.nodes.push(Node {
            com: [sx / m, sy / m],
            mass: m,
            crit,
            start: start as u32,
            end: end as u32,
            leaf,
            child: [NONE; 4],
        });
        if leaf {
            return id;
        }
        let half = 0.5 * side;
        let mid = [corner[0] + half, corner[1] + half];
        let quadrant = |p: &[f64; 2]| usize::from(p[0] >= mid[0]) + 2 * usize::from(p[1] >= mid[1]);
        // Stable counting sort of the range into its four quadrants.
        let mut count = [0usize; 4];
        for p in &self.pts[start..end] {
            count[quadrant(p)] += 1;
        }
        self.scratch.clear();
        self.scratch.extend(
            self.perm[start..end]
                .iter()
                .copied()
                .zip(self.pts[start..end].iter().copied()),
        );
        let mut at = [start; 4];
        for q in 1..4 {
            at[q] = at[q - 1] + count[q - 1];
        }
        let bounds = at;
        for &(i, p) in &self.scratch {
            let q = quadrant(&p);
            self.perm[at[q]] = i;
            self.pts[at[q]] = p;
            at[q] += 1;
        }
        for q in 0..4 {
            if count[q] > 0 {
                let c = [
                    corner[0] + half * (q & 1) as f64,
                    corner[1] + half * (q >> 1) as f64,
                ];
                let child = self.build(bounds[q], bounds[q] + count[q], c, half, depth + 1);
                self.nodes[id as usize].child[q] = child;
            }
        }
        id
    }

    /// The repulsion on the point at sorted position `pos`: `(Σ q²(yᵢ - yⱼ), Σ q)` with
    /// `q = 1 / (1 + |yᵢ - yⱼ|²)`, over all other points (cells summarized per `theta`).
    pub fn repulsion(&self, pos: usize, stack: &mut Vec<u32>) -> [f64; 3] {
        let p = self.pts[pos];
        let (mut fx, mut fy, mut z) = (0.0, 0.0, 0.0);
        stack.clear();
        if !self.nodes.is_empty() {
            stack.push(0);
        }
        while let Some(id) = stack.pop() {
            let node = &self.nodes[id as usize];
            if node.leaf {
                for (s, q) in self.pts[node.start as usize..node.end as usize]
                    .iter()
                    .enumerate()
                {
                    if node.start as usize + s == pos {
                        continue;
                    }
                    let (dx, dy) = (p[0] - q[0], p[1] - q[1]);
                    let w = 1.0 / (1.0 + dx * dx + dy * dy);
                    z += w;
                    let w2 = w * w;
                    fx += w2 * dx;
                    fy += w2 * dy;
                }
                continue;
            }
            let (dx, dy) = (p[0] - node.com[0], p[1] - node.com[1]);
            let d2 = dx * dx + dy * dy;
            if d2 > node.crit {
                let w = 1.0 / (1.0 + d2);
                let mw = node.mass * w;
                z += mw;
                let mw2 = mw * w;
                fx += mw2 * dx;
                fy += mw2 * dy;
            } else {
                for &c in node.child.iter().rev() {
                    if c != NONE {
                        stack.push(c);
                    }
                }
            }
        }
        [fx, fy, z]
    }
}
