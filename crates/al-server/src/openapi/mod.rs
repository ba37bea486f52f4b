//! The route table and the OpenAPI 3.1 document generated from it.
//!
//! [`ROUTES`] is the single definition of what the server serves: the
//! router is built by walking it (`crate::routes::router`), and
//! [`document`] renders it as OpenAPI 3.1. A test compares the document
//! with `docs/openapi.json`, and the conformance tests check every answer
//! against the schema the document declares for its route and status
//! ([`check_response`]), so neither the served routes nor their shapes can
//! drift from the document.
//!
//! The module is split by job: [`ROUTES`] (`table.rs`, the route table),
//! [`schemas`] (`schemas.rs`, the component schemas), [`document`]
//! (`document.rs`, rendering the table as OpenAPI), and [`check_response`]
//! / [`validate`] (`check.rs`, checking an answer against the document).

mod check;
mod document;
mod schemas;
mod table;

pub(crate) use check::path_matches;
pub use check::{check_response, validate};
pub use document::{document, document_text};
pub use schemas::schemas;
pub use table::ROUTES;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No key (the document itself, health).
    None,
    /// An agent key (`al_live_…`).
    Agent,
    /// A service key (`al_svc_…`).
    Service,
    /// Either kind.
    Any,
}

/// A request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// None.
    None,
    /// JSON with this schema.
    Json(&'static str),
    /// A policy manifest, JSON or YAML.
    Manifest,
}

/// A query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// Name.
    pub name: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// Its values, when they are a fixed set.
    pub values: &'static [&'static str],
}

/// One route: what it is, who may call it, what it takes and answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
    /// The path, with `{name}` path parameters (axum and OpenAPI agree).
    pub path: &'static str,
    /// The OpenAPI `operationId`, also the handler's name.
    pub operation: &'static str,
    /// Group.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Details.
    pub doc: &'static str,
    /// Who may call it.
    pub auth: Auth,
    /// Query parameters (the only ones accepted).
    pub query: &'static [Param],
    /// Headers it reads besides `Authorization` and `Content-Type`.
    pub headers: &'static [(&'static str, &'static str)],
    /// Its body.
    pub body: Body,
    /// Success answers: status and schema (`"manifest"`: the manifest text).
    pub ok: &'static [(u16, &'static str)],
    /// Error statuses it can answer (besides `500`/`503`).
    pub errors: &'static [u16],
}
