"""The laboratory quality system: instruments, reagents, analysts, methods, OOS investigations, deviations."""
