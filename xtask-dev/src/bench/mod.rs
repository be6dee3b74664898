//! What the `bench-*` commands share: generated inputs ([`generate`]) and measurement
//! ([`measure`]).

pub mod generate;
pub mod measure;
