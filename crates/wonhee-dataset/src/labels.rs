//! AAMI EC57 beat classes.

use serde::{Deserialize, Serialize};

/// How beat symbols map to classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ClassScheme {
    /// AAMI EC57's five classes: N = N,L,R,e,j; S = A,a,J,S; V = V,E; F = F; Q = /,f,Q.
    #[default]
    Aami5,
    /// Six classes: as `Aami5`, with paced beats (`/`) in their own class P (the WonHEE paper's
    /// class-distribution figure); Q keeps `f` and `Q`.
    Aami6,
}

impl ClassScheme {
    /// From the number of classes (5 or 6).
    pub fn from_count(n: usize) -> Option<Self> {
        match n {
            5 => Some(Self::Aami5),
            6 => Some(Self::Aami6),
            _ => None,
        }
    }

    /// Class names in label order.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Self::Aami5 => &["N", "S", "V", "F", "Q"],
            Self::Aami6 => &["N", "S", "V", "F", "Q", "P"],
        }
    }

    /// Number of classes.
    pub fn len(self) -> usize {
        self.names().len()
    }

    /// Always false (there are classes); for clippy's `len` convention.
    pub fn is_empty(self) -> bool {
        false
    }

    /// Class index of a beat symbol; `None` for non-beat annotations (rhythm, noise, ...).
    pub fn label(self, symbol: &str) -> Option<u8> {
        Some(match symbol {
            "N" | "L" | "R" | "e" | "j" => 0,
            "A" | "a" | "J" | "S" => 1,
            "V" | "E" => 2,
            "F" => 3,
            "/" if self == Self::Aami6 => 5,
            "/" | "f" | "Q" => 4,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        let s = ClassScheme::Aami5;
        for (sym, c) in [
            ("N", 0),
            ("L", 0),
            ("R", 0),
            ("e", 0),
            ("j", 0),
            ("A", 1),
            ("a", 1),
            ("J", 1),
            ("S", 1),
            ("V", 2),
            ("E", 2),
            ("F", 3),
            ("/", 4),
            ("f", 4),
            ("Q", 4),
        ] {
            assert_eq!(s.label(sym), Some(c), "{sym}");
        }
        for sym in [
            "+", "~", "|", "x", "!", "\"", "[", "]", "p", "t", "u", "n", "B",
        ] {
            assert_eq!(s.label(sym), None, "{sym}");
        }
        assert_eq!(ClassScheme::Aami6.label("/"), Some(5));
        assert_eq!(ClassScheme::Aami6.label("f"), Some(4));
        assert_eq!(ClassScheme::from_count(6), Some(ClassScheme::Aami6));
        assert_eq!(ClassScheme::from_count(4), None);
    }
}
