//! Reading inputs with errors that name the file, and writing outputs.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use al_policy::{Error as ManifestError, Format, Manifest};

/// Fill `buf` from the operating system's random source.
pub fn random(buf: &mut [u8]) -> Result<(), UsageError> {
    getrandom::fill(buf).map_err(|e| UsageError(format!("no randomness available: {e}")))
}

/// A failure that is the user's input or usage, not a "no": exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for UsageError {
    fn from(s: String) -> Self {
        UsageError(s)
    }
}

/// Read a whole file as UTF-8.
pub fn read(path: &Path) -> Result<String, UsageError> {
    std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read `{}`: {e}", path.display())))
}

/// The manifest format of a file: by extension, else by content.
pub fn manifest_format(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Format::Json,
        Some("yaml" | "yml") => Format::Yaml,
        _ => Format::sniff(text),
    }
}

/// Render manifest errors as `FILE:LINE:COL: error[CODE]: message (policy …)`.
pub fn render_errors(path: &Path, e: &ManifestError) -> String {
    e.diagnostics()
        .iter()
        .map(|d| format!("{}:{d}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Read and parse a manifest; errors name file, line and column.
pub fn manifest(path: &Path) -> Result<Manifest, UsageError> {
    let text = read(path)?;
    Manifest::parse(&text, manifest_format(path, &text))
        .map_err(|e| UsageError(format!("invalid manifest\n{}", render_errors(path, &e))))
}

/// Read a JSON or YAML document into a JSON value.
pub fn document(path: &Path) -> Result<serde_json::Value, UsageError> {
    let text = read(path)?;
    match manifest_format(path, &text) {
        Format::Json => serde_json::from_str(&text).map_err(|e| {
            UsageError(format!(
                "{}:{}:{}: invalid JSON: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        }),
        Format::Yaml => {
            let mut opts = serde_saphyr::Options::default();
            opts.with_snippet = false;
            serde_saphyr::from_str_with_options(&text, opts).map_err(|e| {
                let loc = e
                    .location()
                    .map(|l| format!("{}:{}:", l.line(), l.column()))
                    .unwrap_or_default();
                UsageError(format!(
                    "{}:{loc} invalid YAML: {}",
                    path.display(),
                    e.to_string().lines().next().unwrap_or("")
                ))
            })
        }
    }
}

/// Print to stdout like `println!`; see [`write_out`].
macro_rules! outln {
    ($($t:tt)*) => { $crate::io::write_out(&mut ::std::io::stdout(), format_args!("{}\n", format_args!($($t)*))) };
}

/// Print to stdout like `print!`; see [`write_out`].
macro_rules! out {
    ($($t:tt)*) => { $crate::io::write_out(&mut ::std::io::stdout(), format_args!($($t)*)) };
}

/// Print to stderr like `eprintln!`; see [`write_out`].
macro_rules! errln {
    ($($t:tt)*) => { $crate::io::write_out(&mut ::std::io::stderr(), format_args!("{}\n", format_args!($($t)*))) };
}

/// Write to a standard stream. A reader that went away (`al … | head -3`)
/// is a normal end for a command-line tool: the process stops quietly
/// with status 0, as ripgrep does, instead of panicking the way `println!`
/// does. Any other write error ends it with status 2 and a message.
pub fn write_out(stream: &mut dyn std::io::Write, args: fmt::Arguments<'_>) {
    if let Err(e) = stream.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        // stderr may be the stream that failed: report without panicking.
        let _ = writeln!(std::io::stderr(), "al: cannot write output: {e}");
        std::process::exit(2);
    }
}
