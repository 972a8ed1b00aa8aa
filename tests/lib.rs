//! End-to-end tests live in `e2e/`; this library is empty so the package has a root.
