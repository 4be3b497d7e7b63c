//! Confinement: every path the model names is resolved here before any file is touched.
//!
//! The model writes paths; a path it writes must never reach outside the task's worktree, into
//! git's own state, or through a symlink to somewhere else. The check is lexical first (cheap,
//! and gives the clearest message), then against the filesystem for symlinks, because a symlink
//! committed to the repository is content the model (or a hostile contributor) controls.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a path was refused. The messages are read by the model, so each says what to do instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error(
        "the path is empty; give a path relative to the repository root, such as `src/main.rs`, or `.` for the root"
    )]
    Empty,
    #[error("the path contains a NUL byte; give a plain path relative to the repository root")]
    NulByte,
    #[error("paths are relative to the repository root; `{0}` is absolute")]
    Absolute(String),
    #[error(
        "`{0}` points outside the repository: `..` may not climb above the repository root; paths are relative to it"
    )]
    Escapes(String),
    #[error(
        "`{0}` is inside `.git`, which the tools do not touch; Orion manages git state itself (commits, branches, pushes)"
    )]
    InsideGit(String),
    #[error(
        "`{path}` goes through the symlink `{link}`, which leads outside the repository; only paths inside the repository can be used"
    )]
    SymlinkOutside { path: String, link: String },
    #[error(
        "`{path}` goes through the symlink `{link}`, whose target does not exist; use the path of a real file"
    )]
    DanglingSymlink { path: String, link: String },
    #[error("`{path}` goes through `{file}`, which is a file, not a directory")]
    ThroughFile { path: String, file: String },
    #[error("could not check `{path}`: {message}")]
    Io { path: String, message: String },
}

/// Resolves `requested` (relative to `root`) to an absolute path that is guaranteed to lie inside
/// the canonical `root` and outside any `.git`, following symlinks that stay inside.
///
/// Public because everything that turns a model-written path into a file operation — the tools
/// here, the caller that runs commands in a directory, the commit step — must apply the same rule.
/// The returned path has symlinks resolved, so writing to it changes the file the link points to
/// and never replaces the link itself. Components that do not exist yet are allowed (a new file in
/// a new directory); they cannot be symlinks, because they do not exist.
pub fn resolve(root: &Path, requested: &str) -> Result<PathBuf, PathError> {
    if requested.is_empty() {
        return Err(PathError::Empty);
    }
    if requested.contains('\0') {
        return Err(PathError::NulByte);
    }
    let parts = normalise(requested)?;
    if parts.iter().any(|part| is_git_dir(part)) {
        return Err(PathError::InsideGit(requested.to_owned()));
    }
    let root = root.canonicalize().map_err(|err| io_error(".", &err))?;

    // Walk the existing prefix one component at a time: a symlink is judged where it appears, so
    // the message can name it, and a link to a link is caught at whichever hop leaves the root.
    let mut existing = root.clone();
    let mut consumed = 0;
    for (index, part) in parts.iter().enumerate() {
        let candidate = existing.join(part);
        let metadata = match candidate.symlink_metadata() {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == io::ErrorKind::NotFound => break,
            Err(err) if err.kind() == io::ErrorKind::NotADirectory => {
                return Err(PathError::ThroughFile {
                    path: requested.to_owned(),
                    file: parts[..index].join("/"),
                });
            }
            Err(err) => return Err(io_error(requested, &err)),
        };
        let shown = || parts[..=index].join("/");
        existing = if metadata.is_symlink() {
            let target = match candidate.canonicalize() {
                Ok(target) => target,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    return Err(PathError::DanglingSymlink {
                        path: requested.to_owned(),
                        link: shown(),
                    });
                }
                Err(err) => return Err(io_error(requested, &err)),
            };
            let Ok(inside) = target.strip_prefix(&root) else {
                return Err(PathError::SymlinkOutside {
                    path: requested.to_owned(),
                    link: shown(),
                });
            };
            if inside
                .components()
                .any(|c| is_git_dir(&c.as_os_str().to_string_lossy()))
            {
                return Err(PathError::InsideGit(requested.to_owned()));
            }
            target
        } else {
            candidate
        };
        consumed = index + 1;
    }
    Ok(parts[consumed..]
        .iter()
        .fold(existing, |path, part| path.join(part)))
}

/// Splits `requested` into plain components, applying `.` and `..` lexically. Lexical is right
/// here: the result is joined onto the root and walked by [`resolve`], so `link/..` can never be
/// interpreted by the OS relative to where `link` points.
fn normalise(requested: &str) -> Result<Vec<String>, PathError> {
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(requested).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err(PathError::Absolute(requested.to_owned()));
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(PathError::Escapes(requested.to_owned()));
                }
            }
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
        }
    }
    Ok(parts)
}

/// `.git` in any case: on a case-insensitive filesystem `.GIT` is the same directory.
fn is_git_dir(part: &str) -> bool {
    part.eq_ignore_ascii_case(".git")
}

fn io_error(path: &str, err: &io::Error) -> PathError {
    PathError::Io {
        path: path.to_owned(),
        message: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn repo() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        fs::create_dir_all(root.join("src")).unwrap();
        fs::write(root.join("src/lib.rs"), "fn main() {}\n").unwrap();
        fs::write(root.join(".git"), "gitdir: /somewhere/else\n").unwrap();
        let root = root.canonicalize().unwrap();
        (dir, root)
    }

    fn refused(root: &Path, requested: &str) -> String {
        resolve(root, requested).unwrap_err().to_string()
    }

    #[test]
    fn plain_relative_paths_resolve_inside_the_root() {
        let (_dir, root) = repo();
        assert_eq!(
            resolve(&root, "src/lib.rs").unwrap(),
            root.join("src/lib.rs")
        );
        assert_eq!(
            resolve(&root, "./src/lib.rs").unwrap(),
            root.join("src/lib.rs")
        );
        assert_eq!(resolve(&root, "src/").unwrap(), root.join("src"));
        assert_eq!(resolve(&root, ".").unwrap(), root);
    }

    #[test]
    fn dot_dot_inside_the_root_is_normalised() {
        let (_dir, root) = repo();
        assert_eq!(
            resolve(&root, "src/../Cargo.toml").unwrap(),
            root.join("Cargo.toml")
        );
        assert_eq!(resolve(&root, "a/b/../../src").unwrap(), root.join("src"));
    }

    #[test]
    fn new_files_in_new_directories_are_allowed() {
        let (_dir, root) = repo();
        assert_eq!(
            resolve(&root, "new/dir/file.rs").unwrap(),
            root.join("new/dir/file.rs")
        );
    }

    #[test]
    fn a_file_cannot_be_used_as_a_directory() {
        let (_dir, root) = repo();
        assert_eq!(
            refused(&root, "src/lib.rs/mod.rs"),
            "`src/lib.rs/mod.rs` goes through `src/lib.rs`, which is a file, not a directory"
        );
    }

    #[test]
    fn the_root_need_not_be_canonical() {
        let (_dir, root) = repo();
        let roundabout = root.join("src").join("..");
        assert_eq!(
            resolve(&roundabout, "src/lib.rs").unwrap(),
            root.join("src/lib.rs")
        );
    }

    #[test]
    fn absolute_paths_are_refused_with_the_rule() {
        let (_dir, root) = repo();
        assert_eq!(
            refused(&root, "/etc/passwd"),
            "paths are relative to the repository root; `/etc/passwd` is absolute"
        );
        let inside = root.join("src/lib.rs");
        assert_eq!(
            resolve(&root, inside.to_str().unwrap()),
            Err(PathError::Absolute(inside.display().to_string()))
        );
    }

    #[test]
    fn dot_dot_that_escapes_is_refused() {
        let (_dir, root) = repo();
        assert_eq!(
            refused(&root, "../outside.txt"),
            "`../outside.txt` points outside the repository: `..` may not climb above the repository root; paths are relative to it"
        );
        assert_eq!(
            resolve(&root, "src/../../repo/src/lib.rs"),
            Err(PathError::Escapes("src/../../repo/src/lib.rs".into()))
        );
    }

    #[test]
    fn empty_and_nul_paths_are_refused() {
        let (_dir, root) = repo();
        assert!(refused(&root, "").starts_with("the path is empty;"));
        assert_eq!(resolve(&root, "src/\0lib.rs"), Err(PathError::NulByte));
    }

    #[test]
    fn git_state_is_off_limits_whether_dir_or_file() {
        let (_dir, root) = repo();
        // The worktree's `.git` file.
        assert!(refused(&root, ".git").starts_with("`.git` is inside `.git`"));
        // A `.git` directory (not present here: refused lexically before touching the disk).
        assert_eq!(
            resolve(&root, ".git/config"),
            Err(PathError::InsideGit(".git/config".into()))
        );
        assert_eq!(
            resolve(&root, "vendor/dep/.GIT/HEAD"),
            Err(PathError::InsideGit("vendor/dep/.GIT/HEAD".into()))
        );
        assert_eq!(
            resolve(&root, "x/../.git"),
            Err(PathError::InsideGit("x/../.git".into()))
        );
        assert!(resolve(&root, ".gitignore").is_ok());
    }

    #[cfg(unix)]
    mod symlinks {
        use super::*;
        use std::os::unix::fs::symlink;

        #[test]
        fn a_symlink_to_a_system_directory_is_refused() {
            let (_dir, root) = repo();
            symlink("/etc", root.join("etc")).unwrap();
            assert_eq!(
                refused(&root, "etc/passwd"),
                "`etc/passwd` goes through the symlink `etc`, which leads outside the repository; only paths inside the repository can be used"
            );
            // Also for a file that does not exist behind it: writing there would escape.
            assert!(matches!(
                resolve(&root, "etc/orion-new-file"),
                Err(PathError::SymlinkOutside { link, .. }) if link == "etc"
            ));
        }

        #[test]
        fn a_symlink_to_a_sibling_directory_is_refused() {
            let (dir, root) = repo();
            let sibling = dir.path().join("sibling");
            fs::create_dir(&sibling).unwrap();
            fs::write(sibling.join("secret.txt"), "x").unwrap();
            fs::create_dir(root.join("docs")).unwrap();
            symlink(&sibling, root.join("docs/shared")).unwrap();
            assert_eq!(
                resolve(&root, "docs/shared/secret.txt"),
                Err(PathError::SymlinkOutside {
                    path: "docs/shared/secret.txt".into(),
                    link: "docs/shared".into(),
                })
            );
            // A relative link that climbs out is the same escape.
            symlink("../../sibling", root.join("docs/up")).unwrap();
            assert!(matches!(
                resolve(&root, "docs/up"),
                Err(PathError::SymlinkOutside { link, .. }) if link == "docs/up"
            ));
        }

        #[test]
        fn a_symlink_to_a_file_inside_resolves_to_its_target() {
            let (_dir, root) = repo();
            symlink("src/lib.rs", root.join("lib-link.rs")).unwrap();
            assert_eq!(
                resolve(&root, "lib-link.rs").unwrap(),
                root.join("src/lib.rs")
            );
        }

        #[test]
        fn a_symlinked_directory_inside_allows_new_files_beneath_it() {
            let (_dir, root) = repo();
            symlink("src", root.join("source")).unwrap();
            assert_eq!(
                resolve(&root, "source/new/mod.rs").unwrap(),
                root.join("src/new/mod.rs")
            );
        }

        #[test]
        fn a_chain_of_links_is_refused_at_the_hop_that_leaves() {
            let (dir, root) = repo();
            symlink(dir.path(), root.join("src/out")).unwrap();
            symlink("src", root.join("in")).unwrap();
            assert!(matches!(
                resolve(&root, "in/out/repo/src/lib.rs"),
                Err(PathError::SymlinkOutside { link, .. }) if link == "in/out"
            ));
        }

        #[test]
        fn a_symlink_into_git_state_is_refused() {
            let (_dir, root) = repo();
            fs::remove_file(root.join(".git")).unwrap();
            fs::create_dir(root.join(".git")).unwrap();
            symlink(".git", root.join("hidden")).unwrap();
            assert_eq!(
                resolve(&root, "hidden/config"),
                Err(PathError::InsideGit("hidden/config".into()))
            );
        }

        #[test]
        fn a_dangling_symlink_is_refused_rather_than_written_through() {
            let (_dir, root) = repo();
            symlink("/nonexistent-orion-target", root.join("dangling")).unwrap();
            assert_eq!(
                refused(&root, "dangling"),
                "`dangling` goes through the symlink `dangling`, whose target does not exist; use the path of a real file"
            );
        }
    }
}
