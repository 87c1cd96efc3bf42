"""The demo shop: a seeded, generated Japanese online tea shop that `comeback demo` replays."""
