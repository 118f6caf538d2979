"""Results: the typed record, results files, per-item sidecars, the writer's lock and output paths."""
