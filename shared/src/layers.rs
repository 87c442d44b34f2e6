//! The floors of this crate, checked: a file may use (`crate::…`) what is on its own floor or below, never
//! what is above it. Doc comments may link anywhere.
//!
//! | floor | modules | what lives there |
//! |---|---|---|
//! | 0 base | `error`, `ids`, `tls`, `telemetry`, `config`, `aws`, `text` | the error table, ids, TLS, logs and the request-id context, configuration, the text rules |
//! | 1 model | `auth`, `agent`, `paging`, `billing::plan`, `extract` | values and rules without I/O: tokens, passwords, the authorization proofs, the agent's configuration and prompt, pages, plans, text out of files |
//! | 2 adapters | `db`, `queue`, `ratelimit`, `fetch`, `storage`, `repo`, `outbox`, `email`, `knowledge`, `billing::stripe` | everything that talks to PostgreSQL, SQS, SES, Upstash, OpenAI, Qdrant, Stripe |
//! | 3 use cases | `services`, `billing`, `state` | what a route or a consumer asks for, over the adapters |
//! | 4 edges | `http`, `lambda`, `openapi` | axum extractors and layers, the Lambda entry points, the API document |

/// Module path prefixes (as `a/b`) and their floor; the longest matching prefix wins.
const FLOORS: &[(&str, u8)] = &[
    ("error", 0),
    ("ids", 0),
    ("tls", 0),
    ("telemetry", 0),
    ("config", 0),
    ("aws", 0),
    ("text", 0),
    ("auth", 1),
    ("agent", 1),
    ("paging", 1),
    ("billing/plan", 1),
    ("extract", 1),
    ("crawl", 3),
    ("db", 2),
    ("queue", 2),
    ("ratelimit", 2),
    ("fetch", 2),
    ("storage", 2),
    ("repo", 2),
    ("outbox", 2),
    ("email", 2),
    ("knowledge", 2),
    ("billing/stripe", 2),
    ("services", 3),
    ("billing", 3),
    ("state", 3),
    ("http", 4),
    ("lambda", 4),
    ("openapi", 4),
    ("lib", 4),
    // Re-exported at the crate root from floor 0 and 3 (`crate::ApiError`, `crate::AppState`, …).
    ("ApiError", 0),
    ("ErrorCode", 0),
    ("Config", 0),
    ("Role", 0),
    ("WorkspaceId", 0),
    ("AppState", 3),
];

/// The floor of a module path (`["billing", "plan", "Plan"]`), by its longest known prefix.
fn floor(path: &[&str]) -> Option<u8> {
    (1..=path.len()).rev().find_map(|n| {
        let prefix = path[..n].join("/");
        FLOORS
            .iter()
            .find(|(p, _)| *p == prefix)
            .map(|(_, floor)| *floor)
    })
}

/// Every `crate::…` path a line of code names, with `use crate::{a::b, c}` groups expanded.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `studio_crate::`, not ours
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let segments: Vec<String> = item
                    .trim()
                    .split("::")
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                if !segments.is_empty() {
                    out.push(segments);
                }
            }
            continue;
        }
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        out.push(
            path.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// `billing/plan.rs` → `["billing", "plan"]`; `billing/mod.rs` → `["billing"]`.
    fn module_of(relative: &Path) -> Vec<String> {
        let mut parts: Vec<String> = relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        parts
    }

    #[test]
    fn no_file_uses_a_module_on_a_floor_above_its_own() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        assert!(files.len() > 50, "found only {} files", files.len());
        let mut violations = Vec::new();
        for file in &files {
            let relative = file.strip_prefix(&src).expect("under src");
            if relative == Path::new("layers.rs") {
                continue; // the checker's own strings
            }
            let module = module_of(relative);
            let names: Vec<&str> = module.iter().map(String::as_str).collect();
            let own = floor(&names)
                .unwrap_or_else(|| panic!("{} has no floor: add it to FLOORS", relative.display()));
            let text = std::fs::read_to_string(file).expect("read");
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for path in crate_paths(line) {
                    let names: Vec<&str> = path.iter().map(String::as_str).collect();
                    let Some(used) = floor(&names) else {
                        violations.push(format!(
                            "{}:{}: crate::{} is on no floor",
                            relative.display(),
                            n + 1,
                            path.join("::")
                        ));
                        continue;
                    };
                    if used > own {
                        violations.push(format!(
                            "{}:{} (floor {own}) uses crate::{} (floor {used})",
                            relative.display(),
                            n + 1,
                            path.join("::")
                        ));
                    }
                }
            }
        }
        assert!(
            violations.is_empty(),
            "lower floors must not reach up:\n{}",
            violations.join("\n")
        );
    }

    #[test]
    fn the_checker_sees_paths_groups_and_prefixes() {
        assert_eq!(
            crate_paths("use crate::{auth::Tenant, error::ApiError};"),
            vec![vec!["auth", "Tenant"], vec!["error", "ApiError"]]
        );
        assert_eq!(
            crate_paths("let x = crate::http::request_id::current(); my_crate::x"),
            vec![vec!["http", "request_id", "current"]]
        );
        assert_eq!(floor(&["billing", "plan", "Plan"]), Some(1));
        assert_eq!(floor(&["billing", "quota"]), Some(3));
        assert_eq!(floor(&["billing"]), Some(3));
        assert_eq!(floor(&["nowhere"]), None);
    }
}
