//! Man pages and shell completions are generated from the clap definitions and committed; these tests
//! fail when a committed file differs from what the code generates. `UPDATE_MAN=1 cargo test` rewrites
//! them.

use std::path::{Path, PathBuf};

use clap_complete::Shell;
use mmtools::cli::{TOOLS, Tool};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Escapes text for roff: backslashes, and a leading dot or quote on a line.
fn roff_escape(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.replace('\\', "\\e").replace('-', "\\-");
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The man page: clap_mangen's sections, then the hand-written ones.
fn man_page(tool: &Tool) -> Vec<u8> {
    let command = (tool.command)();
    let man = clap_mangen::Man::new(command);
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    man.render_name_section(&mut out).unwrap();
    man.render_synopsis_section(&mut out).unwrap();
    man.render_description_section(&mut out).unwrap();
    man.render_options_section(&mut out).unwrap();
    for (title, text) in tool.man_sections {
        out.extend_from_slice(format!(".SH \"{title}\"\n").as_bytes());
        for paragraph in text.split("\n\n") {
            if paragraph.starts_with("    ") {
                // An indented block: a literal example.
                out.extend_from_slice(b".PP\n.nf\n.RS 4\n");
                out.extend_from_slice(
                    roff_escape(
                        &paragraph
                            .lines()
                            .map(|l| l.trim_start())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(b"\n.RE\n.fi\n");
            } else {
                out.extend_from_slice(b".PP\n");
                out.extend_from_slice(roff_escape(paragraph.trim()).as_bytes());
                out.push(b'\n');
            }
        }
    }
    man.render_version_section(&mut out).unwrap();
    out
}

fn completion(tool: &Tool, shell: Shell) -> Vec<u8> {
    let mut command = (tool.command)();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, tool.name, &mut out);
    out
}

/// Compares `generated` with the committed file, or rewrites it under UPDATE_MAN=1.
fn check(path: &Path, generated: &[u8], stale: &mut Vec<String>) {
    if std::env::var_os("UPDATE_MAN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, generated).unwrap();
        return;
    }
    match std::fs::read(path) {
        Ok(committed) if committed == generated => {}
        _ => stale.push(path.display().to_string()),
    }
}

#[test]
fn man_pages_and_completions_are_current() {
    let mut stale = Vec::new();
    for tool in TOOLS {
        check(
            &root().join("man").join(format!("{}.1", tool.name)),
            &man_page(tool),
            &mut stale,
        );
        for (shell, file) in [
            (Shell::Bash, format!("{}.bash", tool.name)),
            (Shell::Zsh, format!("_{}", tool.name)),
            (Shell::Fish, format!("{}.fish", tool.name)),
        ] {
            check(
                &root().join("completions").join(file),
                &completion(tool, shell),
                &mut stale,
            );
        }
    }
    check(
        &root().join("man").join("mmtools-json.7"),
        mmtools::cli::schema::man_page(env!("CARGO_PKG_VERSION")).as_bytes(),
        &mut stale,
    );
    assert!(
        stale.is_empty(),
        "stale or missing (run UPDATE_MAN=1 cargo test): {stale:?}"
    );
}

#[test]
fn every_json_output_section_points_at_the_schema_page() {
    for tool in TOOLS {
        let (_, text) = tool
            .man_sections
            .iter()
            .find(|(t, _)| *t == "JSON OUTPUT")
            .unwrap();
        assert!(text.contains("mmtools-json(7)"), "{}", tool.name);
    }
}

#[test]
fn every_man_page_has_the_hand_written_sections() {
    for tool in TOOLS {
        let titles: Vec<&str> = tool.man_sections.iter().map(|(t, _)| *t).collect();
        for required in ["EXAMPLES", "EXIT STATUS", "JSON OUTPUT", "CAVEATS"] {
            assert!(titles.contains(&required), "{} lacks {required}", tool.name);
        }
        let page = String::from_utf8(man_page(tool)).unwrap();
        assert!(page.contains(".SH \"EXIT STATUS\""), "{}", tool.name);
        assert!(
            page.contains(&format!(".TH {}", tool.name)),
            "{}",
            tool.name
        );
    }
}

#[test]
fn every_tool_reports_its_own_name_and_version() {
    for tool in TOOLS {
        let command = (tool.command)();
        assert_eq!(command.get_name(), tool.name);
        assert_eq!(command.get_version(), Some(env!("CARGO_PKG_VERSION")));
    }
}
