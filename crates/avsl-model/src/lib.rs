//! Placeholder until its issue lands (see the tracker); intentionally empty.
