//! Plugins loaded for real: the built-in plugins' cdylib builds opened with dlopen, libraries
//! found by name on the search path, and fixture libraries built on purpose against an altered
//! plugin-abi, each of which must be refused with its one-paragraph error.
//!
//! The library-level tests call `boss_ingest::plugins` in this process (real dlopen, real
//! libraries); the command tests run the `boss-ingest` binary.

use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use boss_ingest::plugins::{Plugins, PluginsError, ProcessorSpec, SearchPath, Source};
use plugin_abi::{ErrorKind, TileImage, ABI_VERSION};
use serde_json::{json, Value};

use crate::support::cmd::{self, Cmd};

/// The file of the plugin library `name`: `libboss_ingest_plugin_<name>.so` (the platform's
/// prefix and suffix).
fn lib_file(name: &str) -> String {
    format!("{DLL_PREFIX}boss_ingest_plugin_{name}{DLL_SUFFIX}")
}

/// The file cargo builds from the cdylib crate `crate_name`: `lib<crate_name>.so`.
fn cdylib_file(crate_name: &str) -> String {
    format!("{DLL_PREFIX}{crate_name}{DLL_SUFFIX}")
}

/// A cdylib this test package depends on: `cargo test` leaves it in `target/<profile>/deps/`
/// (next to this executable), `cargo build` copies it one level up.
fn built_library(crate_name: &str) -> PathBuf {
    let file = cdylib_file(crate_name);
    let exe = std::env::current_exe().expect("path of the test executable");
    let deps = exe.parent().expect("test executable has a directory");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        if dir.join(&file).is_file() {
            return dir.join(&file);
        }
    }
    panic!(
        "{file} is neither in {} nor one level up; it is a dev-dependency of boss-ingest-tests, so \
         `cargo test -p boss-ingest-tests` builds it",
        deps.display()
    );
}

/// The `testing` built-in plugin as a loadable library.
fn testing_library() -> PathBuf {
    built_library("boss_ingest_plugin_testing_dylib")
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("boss-ingest-plugins-")
        .tempdir()
        .expect("create a temp dir")
}

/// Copies `library` into `dir` as the library `name`, returning the new path.
fn install(library: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(lib_file(name));
    std::fs::copy(library, &to).expect("copy a plugin library");
    to
}

fn spec(class: &str, plugin: Option<&str>, params: serde_json::Value) -> ProcessorSpec {
    ProcessorSpec {
        class: class.to_string(),
        plugin: plugin.map(str::to_string),
        params,
    }
}

fn job() -> serde_json::Value {
    json!({"ingest_job": {"tile_size": {"x": 8, "y": 4, "z": 1, "t": 1}}})
}

fn error_text<T>(r: Result<T, PluginsError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// Registry whose only search directory is `dir`.
fn plugins_in(dir: &Path) -> Plugins {
    Plugins::new(SearchPath::explicit([dir.to_path_buf()]))
}

// ---- fixture libraries built against an altered plugin-abi ----

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package is inside the workspace")
        .to_path_buf()
}

/// Where fixture workspaces and their shared target dir live: `target/fixture-plugins`, so a
/// second run rebuilds nothing.
fn fixture_root() -> PathBuf {
    // This executable is target/<profile>/deps/e2e-<hash>.
    let exe = std::env::current_exe().expect("path of the test executable");
    exe.ancestors()
        .nth(3)
        .expect("the test executable is inside target/<profile>/deps")
        .join("fixture-plugins")
}

/// Writes `contents` unless the file already holds exactly that (keeps mtimes, so cargo does
/// not rebuild).
fn write_if_changed(path: &Path, contents: &str) {
    if std::fs::read_to_string(path).ok().as_deref() == Some(contents) {
        return;
    }
    std::fs::create_dir_all(path.parent().expect("a file has a directory")).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// The manifest of a fixture workspace: the main workspace's package settings and the
/// dependency versions plugin-abi uses (so the copied lock file applies offline).
fn fixture_manifest(members: &[&str]) -> String {
    let main = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let package_start = main
        .find("[workspace.package]")
        .expect("the workspace has [workspace.package]");
    let package_len = main[package_start + 1..]
        .find("\n[")
        .expect("a section follows [workspace.package]");
    let package = &main[package_start..package_start + 1 + package_len];
    let deps: Vec<&str> = main
        .lines()
        .filter(|l| {
            [
                "abi_stable =",
                "serde_json =",
                "thiserror =",
                "image =",
                "tiff =",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        })
        .collect();
    let members: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        "# Generated by tests/e2e/plugin_loading.rs\n[workspace]\nresolver = \"2\"\nmembers = [{}]\n\n{}\n\n[workspace.dependencies]\n{}\n\n[profile.dev]\ndebug = false\n",
        members.join(", "),
        package.trim_end(),
        deps.join("\n")
    )
}

/// Rewrites a copied file: (path relative to the copied directory, text) → new text.
type Alter<'a> = dyn Fn(&str, String) -> String + 'a;

/// Copies a directory tree of text files, passing each through `alter(relative path, text)`.
fn copy_tree(from: &Path, to: &Path, alter: &Alter<'_>) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = entry.file_name().into_string().unwrap();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name), &|rel, text| {
                alter(&format!("{name}/{rel}"), text)
            });
        } else {
            let text = std::fs::read_to_string(&path).unwrap();
            write_if_changed(&to.join(&name), &alter(&name, text));
        }
    }
}

/// Builds the fixture crate `package` in the fixture workspace `variant` and returns the path
/// of its library.
///
/// Each variant's crate gets its own package name (`<package>-<variant>`): the variants share one
/// target dir, and cdylibs carry no hash in their file names there, so one name would make the
/// variants overwrite each other's library. And a library file is never rewritten in place: this
/// process may have it mapped (a rewrite under a loaded library crashes the process at exit).
fn build_fixture(variant: &str, package: &str, plugin_abi: Option<&Alter>) -> PathBuf {
    // Tests run in parallel; one fixture build at a time.
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());

    let root = fixture_root().join(variant);
    let ws = workspace_root();
    let name = format!("{package}-{variant}");
    let mut members = vec![package];
    if let Some(alter) = plugin_abi {
        copy_tree(&ws.join("plugin-abi"), &root.join("plugin-abi"), alter);
        members.push("plugin-abi");
    }
    copy_tree(
        &ws.join("tests/fixtures").join(package),
        &root.join(package),
        &|rel, text| {
            if rel != "Cargo.toml" {
                return text;
            }
            let old = format!("name = \"{package}\"");
            assert!(text.contains(&old), "{package}/Cargo.toml has no `{old}`");
            text.replacen(&old, &format!("name = \"{name}\""), 1)
        },
    );
    write_if_changed(&root.join("Cargo.toml"), &fixture_manifest(&members));
    write_if_changed(
        &root.join("Cargo.lock"),
        &std::fs::read_to_string(ws.join("Cargo.lock")).unwrap(),
    );
    let target = fixture_root().join("target");
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--offline",
            "--quiet",
            "-p",
            &name,
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "building fixture {variant}/{package} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let built = target
        .join("debug")
        .join(cdylib_file(&name.replace('-', "_")));
    let bytes = std::fs::read(&built).expect("read the built fixture library");
    // A private copy per variant, replaced (new file, then rename) only when it changed.
    let copy = root.join(cdylib_file(&name));
    if std::fs::read(&copy).ok().as_deref() != Some(&bytes[..]) {
        let fresh = root.join(format!("{}.new", cdylib_file(&name)));
        std::fs::write(&fresh, &bytes).unwrap();
        std::fs::rename(&fresh, &copy).unwrap();
    }
    copy
}

/// The next incompatible plugin-abi version: 0.(y+1).0 (or (x+1).0.0 from 1.0 on).
fn next_breaking_version() -> String {
    let parts: Vec<u32> = ABI_VERSION.split('.').map(|p| p.parse().unwrap()).collect();
    match parts[..] {
        [0, minor, _] => format!("0.{}.0", minor + 1),
        [major, _, _] => format!("{}.0.0", major + 1),
        _ => panic!("plugin-abi version {ABI_VERSION} is not x.y.z"),
    }
}

/// foreign-plugin built against a plugin-abi copy whose version is the next breaking one.
fn plugin_of_another_abi_version() -> PathBuf {
    let bumped = next_breaking_version();
    build_fixture(
        "abi-version",
        "foreign-plugin",
        Some(&move |rel: &str, text: String| {
            if rel != "Cargo.toml" {
                return text;
            }
            let old = format!("version = \"{ABI_VERSION}\"");
            assert!(text.contains(&old), "plugin-abi/Cargo.toml has no `{old}`");
            text.replacen(&old, &format!("version = \"{bumped}\""), 1)
        }),
    )
}

/// foreign-plugin built against a plugin-abi copy whose version differs in the patch number only
/// (a compatible release, which may only add).
fn plugin_of_a_compatible_abi_version() -> PathBuf {
    let parts: Vec<u32> = ABI_VERSION.split('.').map(|p| p.parse().unwrap()).collect();
    let patched = format!("{}.{}.{}", parts[0], parts[1], parts[2] + 1);
    build_fixture(
        "abi-patch",
        "foreign-plugin",
        Some(&move |rel: &str, text: String| {
            if rel != "Cargo.toml" {
                return text;
            }
            let old = format!("version = \"{ABI_VERSION}\"");
            assert!(text.contains(&old), "plugin-abi/Cargo.toml has no `{old}`");
            text.replacen(&old, &format!("version = \"{patched}\""), 1)
        }),
    )
}

/// foreign-plugin built against a plugin-abi copy of the same version whose `FfiDescription`
/// has two fields swapped: the sizes still match, the layout does not.
fn plugin_with_another_layout() -> PathBuf {
    build_fixture(
        "abi-layout",
        "foreign-plugin",
        Some(&|rel: &str, text: String| {
            if rel != "src/ffi.rs" {
                return text;
            }
            let old = "pub struct FfiDescription {\n    pub library: RString,\n    pub description: RString,";
            let new = "pub struct FfiDescription {\n    pub description: RString,\n    pub library: RString,";
            assert!(
                text.contains(old),
                "plugin-abi/src/ffi.rs no longer has {old:?}"
            );
            text.replacen(old, new, 1)
        }),
    )
}

fn not_a_plugin() -> PathBuf {
    build_fixture("plain", "not-a-plugin", None)
}

// ---- library-level: real dlopen in this process ----

#[test]
fn a_dlopened_plugin_works_like_the_builtin() {
    let dir = temp_dir();
    let plugins = plugins_in(dir.path());
    let library = testing_library();
    let lib = library.to_str().unwrap();
    let loaded = plugins
        .tile_processor(&spec(
            &format!("{lib}::TestRandomTileProcessor"),
            None,
            job(),
        ))
        .unwrap();
    let builtin = plugins
        .tile_processor(&spec(
            "ingestclient.plugins.tile.TestRandomTileProcessor",
            None,
            job(),
        ))
        .unwrap();
    assert_eq!(loaded.source(), &Source::File(library.clone()));
    assert_eq!(builtin.source(), &Source::BuiltIn);
    assert_eq!(loaded.name(), "testing::TestRandomTileProcessor");
    let a = loaded.tile("", 1, 2, 3, 0).unwrap();
    let b = builtin.tile("", 1, 2, 3, 0).unwrap();
    let TileImage::Raw { width, height, .. } = &a.image else {
        panic!("expected raw pixels, got {:?}", a.image)
    };
    assert_eq!((*width, *height), (8, 4));
    assert_eq!(a, b, "the loaded and the built-in plugin disagree");
}

#[test]
fn a_library_is_found_by_name_on_the_search_path() {
    let dir = temp_dir();
    install(&testing_library(), dir.path(), "mytesting");
    let plugins = plugins_in(dir.path());
    let path = plugins
        .path_processor(&spec(
            "TestPassThroughPathProcessor",
            Some("mytesting"),
            job(),
        ))
        .unwrap();
    assert_eq!(path.path(0, 0, 0, 0).unwrap(), "");
    assert_eq!(
        path.source(),
        &Source::File(dir.path().join(lib_file("mytesting")))
    );
    // Legacy names work inside a named library too.
    let tile = plugins
        .tile_processor(&spec(
            "mytesting::ingestclient.plugins.tile.TestRandomTileProcessor",
            None,
            job(),
        ))
        .unwrap();
    assert_eq!(tile.name(), "testing::TestRandomTileProcessor");
}

#[test]
fn library_not_found_lists_every_place_searched() {
    let a = temp_dir();
    let b = temp_dir();
    let missing = b.path().join("nope");
    let plugins = Plugins::new(SearchPath::explicit([
        a.path().to_path_buf(),
        missing.clone(),
    ]));
    assert_eq!(
        error_text(plugins.tile_processor(&spec("MyTile", Some("mylib"), job()))),
        format!(
            "plugin library \"mylib\" (for processor class \"MyTile\") was not found: looked for \
             {} in {} (given), {} (given, does not exist). Put the library in one of these \
             directories, add its directory to BOSS_INGEST_PLUGIN_PATH, or give the library's \
             path as \"plugin\".",
            lib_file("mylib"),
            a.path().display(),
            missing.display()
        )
    );
}

#[test]
fn a_file_that_is_not_a_library_is_not_a_plugin() {
    let dir = temp_dir();
    let junk = dir.path().join(lib_file("junk"));
    std::fs::write(&junk, "this is text, not a shared library\n").unwrap();
    let text = error_text(plugins_in(dir.path()).tile_processor(&spec("junk::X", None, job())));
    let prefix = format!(
        "{} is not a boss-ingest plugin: it could not be loaded as a shared library (",
        junk.display()
    );
    assert!(text.starts_with(&prefix), "{text}");
    assert!(
        text.ends_with(
            "). A plugin is a `.so`/`.dylib` built from a crate with `crate-type = [\"cdylib\"]` \
             that calls plugin_abi::export_plugin!."
        ),
        "{text}"
    );
}

#[test]
fn a_shared_library_without_a_root_module_is_not_a_plugin() {
    let library = not_a_plugin();
    let lib = library.to_str().unwrap();
    let dir = temp_dir();
    assert_eq!(
        error_text(plugins_in(dir.path()).tile_processor(&spec("X", Some(lib), job()))),
        format!(
            "{lib} is not a boss-ingest plugin: it is a shared library but exports no plugin root \
             module. A plugin library must call plugin_abi::export_plugin!."
        )
    );
}

#[test]
fn a_plugin_built_against_another_abi_version_is_refused() {
    let library = plugin_of_another_abi_version();
    let lib = library.to_str().unwrap();
    let dir = temp_dir();
    assert_eq!(
        error_text(plugins_in(dir.path()).path_processor(&spec(
            "FixedPathProcessor",
            Some(lib),
            json!({})
        ))),
        format!(
            "{lib} was built against plugin-abi {}, but this boss-ingest uses plugin-abi \
             {ABI_VERSION}, and the two are not compatible: rebuild the plugin against plugin-abi \
             {ABI_VERSION}.",
            next_breaking_version()
        )
    );
}

#[test]
fn a_plugin_built_against_a_compatible_abi_release_loads() {
    let library = plugin_of_a_compatible_abi_version();
    let lib = library.to_str().unwrap();
    let dir = temp_dir();
    let path = plugins_in(dir.path())
        .path_processor(&spec("FixedPathProcessor", Some(lib), json!({})))
        .unwrap();
    assert_eq!(path.name(), "foreign::FixedPathProcessor");
    assert_eq!(path.path(1, 2, 3, 0).unwrap(), "/fixed");
}

#[test]
fn a_python_module_name_no_builtin_claims_is_found_as_a_library() {
    // `ingestclient.plugins.foreign.X` → the library `foreign` on the search path (how optional
    // plugins kept outside the binary, such as HDF5, are found).
    let dir = temp_dir();
    std::fs::copy(
        plugin_of_a_compatible_abi_version(),
        dir.path().join(lib_file("foreign")),
    )
    .unwrap();
    let path = plugins_in(dir.path())
        .path_processor(&spec(
            "ingestclient.plugins.foreign.FixedPathProcessor",
            None,
            json!({}),
        ))
        .unwrap();
    assert_eq!(path.name(), "foreign::FixedPathProcessor");
    assert_eq!(path.path(0, 0, 0, 0).unwrap(), "/fixed");
}

#[test]
fn a_failing_constructor_names_the_plugin_and_carries_its_message() {
    let library = plugin_of_a_compatible_abi_version();
    let lib = library.to_str().unwrap();
    let dir = temp_dir();
    assert_eq!(
        error_text(plugins_in(dir.path()).path_processor(&spec(
            "RefusesToStart",
            Some(lib),
            json!({})
        ))),
        format!("foreign::RefusesToStart ({lib}) could not be created: no data at /nowhere")
    );
}

#[test]
fn a_panic_in_a_constructor_names_the_plugin() {
    let library = plugin_of_a_compatible_abi_version();
    let lib = library.to_str().unwrap();
    let dir = temp_dir();
    let text = error_text(plugins_in(dir.path()).path_processor(&spec(
        "PanicsWhenCreated",
        Some(lib),
        json!({}),
    )));
    let prefix = format!(
        "foreign::PanicsWhenCreated ({lib}) panicked while being created (panicked at \
         foreign-plugin/lib.rs:"
    );
    assert!(text.starts_with(&prefix), "{text}");
    assert!(
        text.ends_with(": constructor bug); this is a bug in the plugin"),
        "{text}"
    );
}

#[test]
fn a_plugin_with_another_type_layout_is_refused_without_a_layout_dump() {
    let library = plugin_with_another_layout();
    let lib = library.to_str().unwrap();
    let dir = temp_dir();
    let text = error_text(plugins_in(dir.path()).path_processor(&spec(
        "FixedPathProcessor",
        Some(lib),
        json!({}),
    )));
    // One paragraph with the gist (which type, which fields), not abi_stable's report of
    // several hundred lines.
    assert_eq!(
        text,
        format!(
            "{lib} was built against plugin-abi {ABI_VERSION}, but its interface types do not \
             match this boss-ingest's plugin-abi {ABI_VERSION} (in FfiDescription: unexpected \
             field: expected `library: RString`, found `description: RString`; unexpected field: \
             expected `description: RString`, found `library: RString`). The plugin was built \
             against a modified or different copy of plugin-abi: rebuild it against the released \
             plugin-abi {ABI_VERSION}."
        )
    );
}

#[test]
fn a_class_not_in_the_library_lists_the_classes_it_has() {
    let library = testing_library();
    let lib = library.to_str().unwrap();
    let dir = temp_dir();
    assert_eq!(
        error_text(plugins_in(dir.path()).tile_processor(&spec(
            &format!("{lib}::Nope"),
            None,
            job()
        ))),
        format!(
            "plugin library \"testing\" ({lib}) has no tile processor class \"Nope\"; its classes \
             are: TestPathProcessor (path), TestPassThroughPathProcessor (path), \
             TestTileProcessor (tile), TestRandomTileProcessor (tile), PanickingTileProcessor \
             (tile), TestPatternPathProcessor (path), TestPatternChunkProcessor (chunk)."
        )
    );
}

#[test]
fn the_same_library_name_in_two_places_lists_both() {
    let a = temp_dir();
    let b = temp_dir();
    let first = install(&testing_library(), a.path(), "dup");
    let second = install(&testing_library(), b.path(), "dup");
    let plugins = Plugins::new(SearchPath::explicit([
        a.path().to_path_buf(),
        b.path().to_path_buf(),
    ]));
    assert_eq!(
        error_text(plugins.tile_processor(&spec("dup::TestTileProcessor", None, job()))),
        format!(
            "plugin library \"dup\" was found in more than one place: {} and {}. Remove all but \
             one, or give the path of the one you mean as \"plugin\".",
            first.display(),
            second.display()
        )
    );
}

#[test]
fn params_rejected_by_a_loaded_plugin_carry_its_message() {
    let library = testing_library();
    let lib = library.to_str().unwrap();
    let dir = temp_dir();
    assert_eq!(
        error_text(plugins_in(dir.path()).tile_processor(&spec(
            "PanickingTileProcessor",
            Some(lib),
            job()
        ))),
        format!(
            "testing::PanickingTileProcessor ({lib}) rejected its params: PanickingTileProcessor \
             needs an integer param \"panic_at_z\""
        )
    );
}

#[test]
fn a_panic_inside_a_loaded_plugin_is_an_error_for_that_call_only() {
    let library = testing_library();
    let lib = library.to_str().unwrap();
    let dir = temp_dir();
    let mut params = job();
    params["panic_at_z"] = json!(5);
    let tile = plugins_in(dir.path())
        .tile_processor(&spec("PanickingTileProcessor", Some(lib), params))
        .unwrap();
    let err = tile.tile("", 0, 0, 5, 0).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Panic);
    let prefix = format!("the plugin testing::PanickingTileProcessor ({lib}) panicked at ");
    assert!(err.message.starts_with(&prefix), "{}", err.message);
    let location = err.message[prefix.len()..].split(": ").next().unwrap();
    assert!(
        location.starts_with("plugins/testing/src/lib.rs:"),
        "the location is the panic's file:line:column, got {location}"
    );
    assert!(
        err.message.ends_with(
            ": PanickingTileProcessor: deliberate panic at z=5; this is a bug in the plugin"
        ),
        "{}",
        err.message
    );
    // This process is still here, and the processor still serves other tiles.
    assert!(tile.tile("", 0, 0, 6, 0).is_ok());
}

// ---- through the boss-ingest binary ----

#[test]
fn boss_ingest_plugins_lists_builtins_libraries_and_why_one_cannot_be_used() {
    let dir = temp_dir();
    let home = temp_dir();
    let good = install(&testing_library(), dir.path(), "good");
    let shadow = install(&testing_library(), dir.path(), "testing");
    let junk = dir.path().join(lib_file("junk"));
    std::fs::write(&junk, "not a library\n").unwrap();
    let old = dir.path().join(lib_file("old"));
    std::fs::copy(plugin_of_another_abi_version(), &old).unwrap();

    let out = Cmd::boss_ingest()
        .arg("plugins")
        .env("BOSS_INGEST_PLUGIN_PATH", dir.path())
        .env("HOME", home.path())
        .run();
    assert_eq!(out.code, Some(0), "{}", out.both());

    // The binary and the library agree on the whole listing...
    let search = SearchPath::from_parts(
        Some(dir.path().into()),
        Some(home.path().to_path_buf()),
        Some(cmd::bin("boss-ingest")),
    );
    let expected = boss_ingest::commands::plugins::render(&Plugins::new(search).list());
    assert_eq!(out.stdout, expected);
    // ...and the listing says what it must.
    let stdout = &out.stdout;
    for line in [
        "Built-in plugins:".to_string(),
        "    tile  ZindexStackTileProcessor — the tile's window of the slice image: pass-through, \
         crop, pad, optional cast"
            .to_string(),
        "          also: ingestclient.plugins.stack.ZindexStackTileProcessor".to_string(),
        "          also: ingestclient.plugins.tile.TestRandomTileProcessor".to_string(),
        format!(
            "  good  {}  (plugin-abi {ABI_VERSION}, calls itself \"testing\"): Processors for tests \
             and scale runs: no real data needed",
            good.display()
        ),
        format!(
            "    cannot be used: {} was built against plugin-abi {}, but this boss-ingest uses \
             plugin-abi {ABI_VERSION}, and the two are not compatible: rebuild the plugin against \
             plugin-abi {ABI_VERSION}.",
            old.display(),
            next_breaking_version()
        ),
        format!("  {} (from BOSS_INGEST_PLUGIN_PATH)", dir.path().display()),
        format!(
            "  {} (the user's plugin directory, does not exist)",
            home.path().join(".boss-ingest/plugins").display()
        ),
        format!(
            "  {} (the boss-ingest executable's directory)",
            cmd::bin_dir().display()
        ),
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no line {line:?} in\n{stdout}"
        );
    }
    // A library named like a built-in is listed, with a note that its name alone is ambiguous.
    let shadow_at = stdout
        .find(&format!(
            "  testing  {}  (plugin-abi {ABI_VERSION})",
            shadow.display()
        ))
        .unwrap_or_else(|| panic!("{} not listed in\n{stdout}", shadow.display()));
    assert!(
        stdout[shadow_at..].contains(
            "\n    note: another library (or a built-in) is also named \"testing\", so configs \
             must give this one by its path\n"
        ),
        "{stdout}"
    );
    let junk_line = format!(
        "    cannot be used: {} is not a boss-ingest plugin: it could not be loaded as a shared \
         library (",
        junk.display()
    );
    assert!(
        stdout.lines().any(|l| l.starts_with(&junk_line)),
        "no line starting {junk_line:?} in\n{stdout}"
    );
}

/// A tile job (a v0.1 config, as the Python client wrote them) of `tiles_z` 512² tiles, one per
/// z, whose processors are `path` and `tile`.
fn tiny_job(path: Value, tile: Value, tiles_z: u64) -> Value {
    json!({
      "schema": {"name": "boss-v0.1-schema", "validator": "BossValidatorV01"},
      "client": {
        "backend": {"name": "boss", "class": "BossBackend", "host": "api.theboss.io",
                    "protocol": "https"},
        "path_processor": path,
        "tile_processor": tile
      },
      "database": {"collection": "col", "experiment": "exp", "channel": "ch"},
      "ingest_job": {
        "resolution": 0,
        "extent": {"x": [0, 512], "y": [0, 512], "z": [0, tiles_z], "t": [0, 1]},
        "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1}
      }
    })
}

fn run_check(dir: &Path, config: &Value) -> (cmd::Output, Value) {
    let path = dir.join("job.json");
    std::fs::write(&path, serde_json::to_string_pretty(config).unwrap()).unwrap();
    let out = Cmd::boss_ingest()
        .arg("check")
        .arg(&path)
        .args(["--json", "-"])
        .run();
    let report = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}", out.both()));
    (out, report)
}

#[test]
fn a_panicking_plugin_costs_its_tile_and_check_carries_on() {
    let dir = temp_dir();
    let library = testing_library();
    let lib = library.to_str().unwrap();
    let config = tiny_job(
        json!({"class": "testing::TestPassThroughPathProcessor", "params": {}}),
        json!({"class": "PanickingTileProcessor", "plugin": lib, "params": {"panic_at_z": 1}}),
        3,
    );
    let (out, report) = run_check(dir.path(), &config);
    // The process ended normally, with "some tiles are bad", after checking every tile.
    assert_eq!(out.code, Some(1), "{}", out.both());
    assert_eq!(report["tiles_checked"], 3, "{}", out.both());
    assert_eq!(report["good_tiles"], 2, "{}", out.both());
    let problems = report["problems"].as_array().expect("a problems list");
    assert_eq!(problems.len(), 1, "{}", out.both());
    assert_eq!(problems[0]["z"], 1);
    let message = problems[0]["message"].as_str().unwrap();
    let prefix = format!("the plugin testing::PanickingTileProcessor ({lib}) panicked at plugins/testing/src/lib.rs:");
    assert!(message.contains(&prefix), "{message}");
    assert!(
        message.contains(
            ": PanickingTileProcessor: deliberate panic at z=1; this is a bug in the plugin"
        ),
        "{message}"
    );
}

#[test]
fn check_reports_a_library_it_cannot_load_as_a_config_error() {
    let dir = temp_dir();
    let library = plugin_of_another_abi_version();
    let config = tiny_job(
        json!({"class": "FixedPathProcessor", "plugin": library, "params": {}}),
        json!({"class": "ingestclient.plugins.tile.TestRandomTileProcessor", "params": {}}),
        1,
    );
    let path = dir.path().join("job.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let out = Cmd::boss_ingest().arg("check").arg(&path).run();
    assert_eq!(out.code, Some(2), "{}", out.both());
    let expected = format!(
        "{} was built against plugin-abi {}, but this boss-ingest uses plugin-abi {ABI_VERSION}, \
         and the two are not compatible: rebuild the plugin against plugin-abi {ABI_VERSION}.",
        library.display(),
        next_breaking_version()
    );
    assert!(out.stderr.contains(&expected), "{}", out.both());
}
