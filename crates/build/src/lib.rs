//! Dockerfile builds, the pure part (no I/O): [`parser`] reads a Dockerfile's text into
//! instruction nodes as BuildKit's parser does; [`instructions`] types and checks them into
//! stages; [`lex`] expands variables and splits words as BuildKit's shell lexer does;
//! [`mount`] reads `RUN --mount`; [`flags`] checks instructions' flags; [`ignore`] matches
//! `.dockerignore` patterns as Docker does; [`plan`] picks the stages a target needs and their
//! order; [`scope`] resolves a stage's ARGs and ENVs and expands its instructions; [`perms`]
//! reads `--chmod` and `--chown`; [`cache`] keys steps and explains cache misses; [`history`]
//! writes each step's history line as Docker's classic builder does; [`classic`] the messages
//! of `POST /build`'s stream.

pub mod cache;
pub mod classic;
pub mod flags;
#[doc(hidden)]
pub mod fuzzing;
mod glob;
pub mod history;
pub mod ignore;
pub mod instructions;
pub mod lex;
pub mod mount;
pub mod parser;
pub mod perms;
pub mod plan;
pub mod scope;

pub use instructions::{parse, Dockerfile, Instruction, Stage};
pub use parser::ParseError;
