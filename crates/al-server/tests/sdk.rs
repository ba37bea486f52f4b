//! The real Python SDK (agentlattice 0.4.2, from PyPI, in a venv) against
//! the server binary on a free loopback port.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{Proc, TempDir};

fn target_dir() -> PathBuf {
    // target/<profile>/deps/integration-… → target
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

fn required() -> bool {
    std::env::var("AL_REQUIRE_SDK").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// The venv's python with the SDK installed: `AL_SDK_PYTHON`, or a venv
/// made under `target/sdk-venv`. Without Python or PyPI the test is
/// skipped with a notice, except in CI (`CI` set) or with
/// `AL_REQUIRE_SDK=1`, where it fails.
fn sdk_python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("AL_SDK_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = target_dir().join("sdk-venv");
    let py = venv.join("bin/python");
    let has_sdk = |py: &PathBuf| {
        Command::new(py)
            .args([
                "-c",
                "import agentlattice,sys; sys.exit(agentlattice.__version__ != '0.4.2')",
            ])
            .status()
            .is_ok_and(|s| s.success())
    };
    let setup = || -> Result<(), String> {
        if !py.exists() {
            let s = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .map_err(|e| format!("python3: {e}"))?;
            if !s.success() {
                return Err("python3 -m venv failed".into());
            }
        }
        if !has_sdk(&py) {
            let s = Command::new(&py)
                .args(["-m", "pip", "install", "-q", "agentlattice==0.4.2"])
                .status()
                .map_err(|e| format!("pip: {e}"))?;
            if !s.success() || !has_sdk(&py) {
                return Err("pip install agentlattice==0.4.2 failed".into());
            }
        }
        Ok(())
    };
    match setup() {
        Ok(()) => Some(py),
        Err(e) if required() => panic!("the Python SDK is required here (CI): {e}"),
        Err(e) => {
            eprintln!(
                "SKIPPED python_sdk_against_the_server: {e} (set AL_REQUIRE_SDK=1 to make this fatal)"
            );
            None
        }
    }
}

#[test]
fn python_sdk_against_the_server() {
    let Some(python) = sdk_python() else {
        return;
    };
    let dir = TempDir::new("sdk");
    let data = dir.0.join("data");
    let mut p = Proc::start(&data, &[]).unwrap();
    let key = p.service_key.clone().expect("bootstrap key");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/test_sdk.py");
    let out = Command::new(&python)
        .arg(&script)
        .env("AL_BASE_URL", &p.base)
        .env("AL_SERVICE_KEY", &key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "the SDK test failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        p.stderr()
    );
    // A graceful stop flushes and exits 0; the data restores.
    assert_eq!(p.terminate(), Some(0), "{}", p.stderr());
    let p2 = Proc::start(&data, &[]).unwrap();
    assert!(p2.service_key.is_none(), "no second bootstrap");
}
