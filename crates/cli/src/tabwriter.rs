//! Aligned columns the way Go's `text/tabwriter` makes them, with the settings Docker's tables
//! use (minimum width 10, padding 3, spaces): cells end at a tab, the text after a line's last
//! tab is not part of a column, and a column's width is set per block of consecutive lines that
//! have a cell in it.

pub struct TabWriter {
    min_width: usize,
    padding: usize,
}

impl Default for TabWriter {
    fn default() -> Self {
        TabWriter { min_width: 10, padding: 3 }
    }
}

struct Cell {
    text: String,
    width: usize,
}

impl TabWriter {
    /// The wider columns of `top`.
    pub fn wide() -> TabWriter {
        TabWriter { min_width: 20, padding: 3 }
    }

    /// Formats `text` (lines of tab-terminated cells).
    pub fn format(&self, text: &str) -> String {
        let mut lines: Vec<Vec<Cell>> = text
            .split('\n')
            .map(|l| l.split('\t').map(|c| Cell { text: c.to_string(), width: c.chars().count() }).collect())
            .collect();
        // A final newline ends the last line rather than starting an empty one.
        let ends_with_newline = text.ends_with('\n');
        if ends_with_newline {
            lines.pop();
        }
        let mut out = String::new();
        let mut widths = Vec::new();
        self.block(&lines, 0, lines.len(), &mut widths, &mut out);
        if !ends_with_newline && out.ends_with('\n') {
            out.pop();
        }
        out
    }

    fn block(
        &self,
        lines: &[Vec<Cell>],
        mut line0: usize,
        line1: usize,
        widths: &mut Vec<usize>,
        out: &mut String,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // A block of lines with a cell in this column begins here.
            write_lines(lines, line0, this, widths, out);
            line0 = this;
            let mut width = self.min_width;
            while this < line1 && column + 1 < lines[this].len() {
                width = width.max(lines[this][column].width + self.padding);
                this += 1;
            }
            widths.push(width);
            self.block(lines, line0, this, widths, out);
            widths.pop();
            line0 = this;
        }
        write_lines(lines, line0, line1, widths, out);
    }
}

fn write_lines(lines: &[Vec<Cell>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for line in &lines[from..to] {
        for (j, c) in line.iter().enumerate() {
            out.push_str(&c.text);
            if j < widths.len() && j + 1 < line.len() {
                out.extend(std::iter::repeat_n(' ', widths[j].saturating_sub(c.width)));
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_as_gos_tabwriter() {
        let tw = TabWriter::default();
        let cases = [
            ("A\tB\tC\n", "A         B         C\n"),
            (
                "CONTAINER ID\tIMAGE\tNAMES\nabc\tbusybox:latest\tx\n",
                "CONTAINER ID   IMAGE            NAMES\nabc            busybox:latest   x\n",
            ),
            // Lines without a cell in a column end that column's block.
            ("a\tb\nlonger text\nc\td\n", "a         b\nlonger text\nc         d\n"),
            ("x\ty\t\n", "x         y         \n"),
            ("only\n", "only\n"),
            ("é\tz\n", "é         z\n"),
        ];
        for (input, want) in cases {
            assert_eq!(tw.format(input), want, "{input:?}");
        }
    }
}
