//! Synthetic orgs. STUB.
