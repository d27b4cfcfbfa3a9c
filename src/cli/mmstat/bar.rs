//! Residency maps: a file's pages as a bar of cells, each standing for a span of pages and shaded by the
//! share of them resident. Only a cell whose every page is resident is full, and only one with no
//! resident page is blank, so the map never rounds a page away.

use super::measure::Cell;

const UNICODE: [char; 5] = [' ', '░', '▒', '▓', '█'];
const ASCII: [char; 5] = [' ', '.', ':', '+', '#'];

/// The shade of a cell: 0 for none resident, 4 for all, 1 to 3 for under a third, under two thirds,
/// and the rest.
pub fn level(cell: Cell) -> usize {
    if cell.resident == 0 || cell.pages == 0 {
        0
    } else if cell.resident >= cell.pages {
        4
    } else {
        1 + (3 * u128::from(cell.resident) / u128::from(cell.pages)).min(2) as usize
    }
}

/// The bar: `[`, one character per cell, `]`.
pub fn draw(cells: &[Cell], ascii: bool) -> String {
    let shades = if ascii { &ASCII } else { &UNICODE };
    let mut bar = String::with_capacity(cells.len() * 3 + 2);
    bar.push('[');
    bar.extend(cells.iter().map(|&c| shades[level(c)]));
    bar.push(']');
    bar
}

/// The legend, for the man page and the top of a map.
pub fn legend(ascii: bool) -> String {
    let s = if ascii { &ASCII } else { &UNICODE };
    format!(
        "map: '{}' all pages resident, '{}' two thirds or more, '{}' a third or more, '{}' some, '{}' none",
        s[4], s[3], s[2], s[1], s[0]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(resident: u64, pages: u64) -> Cell {
        Cell { resident, pages }
    }

    #[test]
    fn shades() {
        assert_eq!(level(cell(0, 10)), 0);
        assert_eq!(level(cell(1, 1000)), 1);
        assert_eq!(level(cell(4, 10)), 2);
        assert_eq!(level(cell(7, 10)), 3);
        assert_eq!(level(cell(999, 1000)), 3);
        assert_eq!(level(cell(10, 10)), 4);
        assert_eq!(draw(&[cell(1, 1), cell(0, 1), cell(1, 2)], false), "[█ ▒]");
        assert_eq!(draw(&[cell(1, 1), cell(0, 1), cell(1, 2)], true), "[# :]");
    }
}
