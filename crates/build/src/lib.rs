//! Dockerfile builds, the pure part (no I/O): [`parser`] reads a Dockerfile's text into
//! instruction nodes as BuildKit's parser does, and [`lex`] expands variables and splits words
//! as BuildKit's shell lexer does.

pub mod lex;
pub mod parser;
