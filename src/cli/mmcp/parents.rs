//! `mmcp --parents`: each SRC goes to DIR/SRC (the name as given, without a leading `/`), and the
//! directories leading to it are made under DIR as copies of SRC's own leading directories.

use std::path::{Component, Path, PathBuf};

use super::{Args, Pair, Plan, Usage, plan_with, quote};

/// The plan of a `--parents` run: every pair under DIR, with the directories leading to it.
pub fn plan_parents(args: &Args) -> anyhow::Result<Plan> {
    let (sources, dir) = match &args.target_directory {
        Some(dir) => (args.paths.as_slice(), dir.as_path()),
        None => match args.paths.as_slice() {
            [] => return Err(Usage("missing file operand".into()).into()),
            [one] => {
                return Err(Usage(format!(
                    "missing destination file operand after {}",
                    quote(one)
                ))
                .into());
            }
            [sources @ .., last] => (sources, last.as_path()),
        },
    };
    if !crate::copy::plan::is_directory(dir) {
        return Err(Usage("with --parents, the destination must be a directory".into()).into());
    }
    let mut pairs = Vec::new();
    let mut parents = Vec::new();
    for src in sources {
        let (dst, leading) = under(dir, src);
        pairs.push(Pair {
            src: src.clone(),
            dst,
        });
        parents.push(leading);
    }
    let mut plan = plan_with(args, pairs)?;
    plan.parents = parents;
    Ok(plan)
}

/// Where `src` goes under `dir`, and the directories leading to it (source, destination), outermost
/// first.
fn under(dir: &Path, src: &Path) -> (PathBuf, Vec<(PathBuf, PathBuf)>) {
    let mut from = PathBuf::new();
    let mut to = dir.to_path_buf();
    let mut leading = Vec::new();
    let components: Vec<Component<'_>> = src.components().collect();
    for (i, c) in components.iter().enumerate() {
        from.push(c.as_os_str());
        if matches!(c, Component::RootDir) {
            continue;
        }
        to.push(c.as_os_str());
        if i + 1 < components.len() && !matches!(c, Component::CurDir) {
            leading.push((from.clone(), to.clone()));
        }
    }
    (to, leading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_go_under_dir_with_their_leading_directories() {
        let (dst, leading) = under(Path::new("d"), Path::new("s/t/f"));
        assert_eq!(dst, Path::new("d/s/t/f"));
        assert_eq!(
            leading,
            vec![
                (PathBuf::from("s"), PathBuf::from("d/s")),
                (PathBuf::from("s/t"), PathBuf::from("d/s/t")),
            ]
        );
        let (dst, leading) = under(Path::new("d"), Path::new("/a/b"));
        assert_eq!(dst, Path::new("d/a/b"));
        assert_eq!(leading, vec![(PathBuf::from("/a"), PathBuf::from("d/a"))]);
        let (dst, leading) = under(Path::new("d"), Path::new("f"));
        assert_eq!((dst.as_path(), leading.len()), (Path::new("d/f"), 0));
    }
}
