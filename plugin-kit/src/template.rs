//! File-name templates with the placeholders of the Python client's `base_filename`.
//!
//! Users have thousands of config files whose `base_filename` says where a slice lives, such as
//! `<o:3253>_my_stack_section<p:3>`. This module reproduces exactly what the original's regular
//! expression `<(o:\d+)?(p:\d+)?>` and its `<x>`/`<y>`/`<z>` replacements did, so those files keep
//! naming the same files. A template is parsed once when a processor is built and then rendered
//! per tile without re-scanning the text.

use std::fmt::Write as _;

/// Longest zero padding accepted; wider is certainly a typo and would make absurd file names.
const MAX_PADDING: usize = 64;

/// A parsed `base_filename`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// `<>`, `<o:N>`, `<p:M>` or `<o:Np:M>`: the index plus `offset`, zero-padded to `width`.
    Index {
        offset: u64,
        width: usize,
    },
    /// `<x>`, `<y>` or `<z>`: a raw tile index.
    Axis(Axis),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    X,
    Y,
    Z,
}

/// Why a `base_filename` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("offset in placeholder `{placeholder}` is too large")]
    OffsetTooLarge { placeholder: String },
    #[error("padding in placeholder `{placeholder}` is wider than {MAX_PADDING} digits")]
    PaddingTooWide { placeholder: String },
    #[error("index {index} plus offset {offset} does not fit in 64 bits")]
    Overflow { index: u64, offset: u64 },
}

impl Template {
    /// Parses `text`. Anything that is not one of the placeholders stays literal, as it did in the
    /// original (`<p:3o:2>` included: the original's expression wants the offset first).
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            literal.push_str(&rest[..open]);
            let candidate = &rest[open..];
            match placeholder(candidate)? {
                Some((part, len)) => {
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(part);
                    rest = &candidate[len..];
                }
                None => {
                    literal.push('<');
                    rest = &candidate[1..];
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// Whether the template names the index at all (a stack whose every slice maps to one file is
    /// almost certainly misconfigured, and callers may want to say so).
    pub fn uses_index(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Index { .. } | Part::Axis(Axis::Z)))
    }

    /// Renders the template for one tile. `index` feeds `<>`-style placeholders (z for stacks);
    /// `x`, `y`, `z` feed `<x>`, `<y>`, `<z>`.
    pub fn render(&self, index: u64, x: u64, y: u64, z: u64) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(64);
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Index { offset, width } => {
                    let value = index.checked_add(*offset).ok_or(TemplateError::Overflow {
                        index,
                        offset: *offset,
                    })?;
                    // Writing to a String cannot fail.
                    let _ = write!(out, "{value:0width$}");
                }
                Part::Axis(axis) => {
                    let value = match axis {
                        Axis::X => x,
                        Axis::Y => y,
                        Axis::Z => z,
                    };
                    let _ = write!(out, "{value}");
                }
            }
        }
        Ok(out)
    }
}

/// Recognises a placeholder at the start of `s` (which starts with `<`): the part and its length.
fn placeholder(s: &str) -> Result<Option<(Part, usize)>, TemplateError> {
    for (text, axis) in [("<x>", Axis::X), ("<y>", Axis::Y), ("<z>", Axis::Z)] {
        if s.starts_with(text) {
            return Ok(Some((Part::Axis(axis), text.len())));
        }
    }
    let mut pos = 1;
    let offset = field(s, &mut pos, "o:");
    let width = field(s, &mut pos, "p:");
    if !s[pos..].starts_with('>') {
        return Ok(None);
    }
    let len = pos + 1;
    let text = &s[..len];
    let offset = match offset {
        Some(digits) => digits
            .parse::<u64>()
            .map_err(|_| TemplateError::OffsetTooLarge {
                placeholder: text.to_string(),
            })?,
        None => 0,
    };
    let width = match width {
        Some(digits) => match digits.parse::<usize>() {
            Ok(w) if w <= MAX_PADDING => w,
            _ => {
                return Err(TemplateError::PaddingTooWide {
                    placeholder: text.to_string(),
                })
            }
        },
        None => 0,
    };
    Ok(Some((Part::Index { offset, width }, len)))
}

/// Reads `tag` followed by at least one ASCII digit at `pos`, advancing past it; the digits.
fn field<'a>(s: &'a str, pos: &mut usize, tag: &str) -> Option<&'a str> {
    let rest = s[*pos..].strip_prefix(tag)?;
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let start = *pos + tag.len();
    *pos = start + digits;
    Some(&s[start..start + digits])
}

/// `root_dir/<base_filename>.<extension>`: the file-naming params several path processors
/// share (`root_dir`, `extension`, `base_filename` with the placeholders above).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNames {
    root_dir: String,
    extension: String,
    template: Template,
}

impl FileNames {
    /// Reads the three params; `index` says what `<>` stands for, for messages ("z", "the file
    /// number").
    pub fn from_params(
        p: &crate::params::Params<'_>,
        index: &str,
    ) -> Result<FileNames, crate::params::ParamsError> {
        use crate::params::ParamsError;
        let base = p.string(
            "base_filename",
            &format!("the file name without extension, with <> where {index} goes"),
        )?;
        Ok(FileNames {
            root_dir: p
                .string("root_dir", "the directory or key prefix holding the files")?
                .to_string(),
            extension: p
                .string("extension", "the files' extension, e.g. tif or h5")?
                .to_string(),
            template: Template::parse(base)
                .map_err(|e| ParamsError(format!("param \"base_filename\": {e}")))?,
        })
    }

    /// The file for `index` (and raw tile indices for `<x>`, `<y>`, `<z>`).
    pub fn path(&self, index: u64, x: u64, y: u64, z: u64) -> Result<String, TemplateError> {
        let name = self.template.render(index, x, y, z)?;
        Ok(join(&self.root_dir, &format!("{name}.{}", self.extension)))
    }
}

/// Joins a directory and a file name the way Python's `os.path.join` does, which is what the
/// original used: an empty directory gives the bare name, an absolute name replaces the
/// directory, and no separator is doubled.
pub fn join(root: &str, name: &str) -> String {
    if root.is_empty() || name.starts_with('/') {
        name.to_string()
    } else if root.ends_with('/') {
        format!("{root}{name}")
    } else {
        format!("{root}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, index: u64) -> String {
        Template::parse(t)
            .unwrap()
            .render(index, 0, 0, index)
            .unwrap()
    }

    #[test]
    fn spec_examples() {
        let t = Template::parse("<o:3253>_my_stack_section<p:3>").unwrap();
        assert_eq!(t.render(0, 0, 0, 0).unwrap(), "3253_my_stack_section000");
        assert_eq!(t.render(1, 0, 0, 1).unwrap(), "3254_my_stack_section001");
        assert_eq!(render("<o:200>_my_base_<p:4>", 2), "202_my_base_0002");
        let t = Template::parse("<z>/<y>_<x>").unwrap();
        assert_eq!(t.render(7, 3, 2, 7).unwrap(), "7/2_3");
    }

    #[test]
    fn every_placeholder_form() {
        assert_eq!(render("a<>b", 12), "a12b");
        assert_eq!(render("<o:5>", 12), "17");
        assert_eq!(render("<p:4>", 12), "0012");
        assert_eq!(render("<o:5p:4>", 12), "0017");
        // Padding never truncates.
        assert_eq!(render("<p:2>", 12345), "12345");
        // The same placeholder twice is replaced twice.
        assert_eq!(render("<p:2>/<p:2>", 3), "03/03");
    }

    #[test]
    fn padding_then_offset_is_not_a_placeholder() {
        assert_eq!(render("s<p:3o:2>", 1), "s<p:3o:2>");
    }

    #[test]
    fn near_misses_stay_literal() {
        assert_eq!(render("<o:>_<p:x>_<q>_<", 4), "<o:>_<p:x>_<q>_<");
        assert_eq!(render("<<>>", 4), "<4>");
    }

    #[test]
    fn axes_are_raw_indices() {
        let t = Template::parse("<x>_<y>_<z>_<p:3>").unwrap();
        assert_eq!(t.render(9, 1, 2, 3).unwrap(), "1_2_3_009");
    }

    #[test]
    fn absurd_placeholders_are_errors() {
        assert_eq!(
            Template::parse("<p:65>").unwrap_err().to_string(),
            "padding in placeholder `<p:65>` is wider than 64 digits"
        );
        assert_eq!(
            Template::parse("<o:99999999999999999999>")
                .unwrap_err()
                .to_string(),
            "offset in placeholder `<o:99999999999999999999>` is too large"
        );
        let t = Template::parse("<o:18446744073709551615>").unwrap();
        assert!(matches!(
            t.render(1, 0, 0, 1),
            Err(TemplateError::Overflow { index: 1, .. })
        ));
    }

    #[test]
    fn uses_index() {
        assert!(Template::parse("a<>").unwrap().uses_index());
        assert!(Template::parse("<z>").unwrap().uses_index());
        assert!(!Template::parse("<x>_<y>").unwrap().uses_index());
    }

    #[test]
    fn join_like_os_path_join() {
        assert_eq!(join("/data", "a.png"), "/data/a.png");
        assert_eq!(join("/data/", "a.png"), "/data/a.png");
        assert_eq!(join("", "a.png"), "a.png");
        assert_eq!(join("/data", "/abs/a.png"), "/abs/a.png");
        assert_eq!(join("prefix", "7/2_3.png"), "prefix/7/2_3.png");
    }
}
